export async function runPrepared(..._a: unknown[]): Promise<number> { throw new Error("todo"); }
export async function storePreparedBuffers(..._a: unknown[]): Promise<void> {}
