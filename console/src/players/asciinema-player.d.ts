/** The part of asciinema-player's API the console uses (the package ships no types). */
declare module 'asciinema-player' {
  export interface Player {
    seek(location: number): Promise<void>;
    getCurrentTime(): Promise<number> | number;
    getDuration(): Promise<number | null> | number | null;
    play(): Promise<void>;
    pause(): Promise<void>;
    dispose(): void;
  }
  export function create(src: { data: string } | string, element: HTMLElement, opts?: Record<string, unknown>): Player;
}
