/**
 * The job store interface: what the scheduler needs from durable state. SQLite implements it
 * now ({@link SqliteJobStore}); a shared database can later (STYLE.md §2).
 * @module
 */
import type { Job, JobPatch, JobSpec, JobState, TransitionName } from "./job.ts";

/** A filter for {@link JobStore.listJobs}. Newest first. */
export interface JobFilter {
  states?: JobState[];
  group?: string;
  label?: string;
  /** Only jobs with an id below this one (paging backwards). */
  beforeId?: number;
  limit: number;
}

/** A parallel limit and pause flag per group. */
export interface GroupSettings {
  name: string;
  parallel: number;
  paused: boolean;
}

/** Durable job state. Every method is one transaction. */
export interface JobStore {
  /** Inserts jobs in one transaction and returns them with ids, all `queued`. */
  insertJobs(specs: JobSpec[], nowMs: number): Job[];
  getJob(id: number): Job | null;
  listJobs(filter: JobFilter): Job[];
  /** Every job that is not terminal (`queued` or `running`), oldest first. */
  loadActiveJobs(): Job[];
  /**
   * Applies a named transition.
   *
   * @throws {IllegalTransitionError} when the job's stored state does not allow it
   */
  transition(id: number, name: TransitionName, patch: JobPatch): Job;
  /** Records the process of a running job (to re-attach to it after a restart). */
  setProcess(id: number, pid: number, pidStartTime: string | null): void;
  /** Sets the pause flag of a queued job. */
  setPaused(id: number, paused: boolean): void;
  /** Deletes terminal jobs finished before `beforeMs`; returns their ids. */
  deleteFinished(beforeMs: number): number[];
  countByState(): Record<string, number>;
  getGroups(): GroupSettings[];
  putGroup(group: GroupSettings): void;
  close(): void;
}
