export * from "./types";
export * from "./errors";
export { QmpClient } from "./client";
export type { QmpConnectOptions, QmpExecuteOptions, QmpClientEvents } from "./client";
export * from "./commands";
