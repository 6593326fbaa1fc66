/** `import path from "x.wasm" with { type: "file" }` yields the file's path (Bun, embedded in --compile). */
declare module "*.wasm" {
  const path: string;
  export default path;
}
