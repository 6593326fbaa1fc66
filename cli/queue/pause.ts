import { pauseResumeVerb } from "./_pause-resume.ts";

export const { spec, main } = pauseResumeVerb("pause", "Hold back queued jobs: one job, one group, or (no argument) the whole queue. Running jobs go on.");
