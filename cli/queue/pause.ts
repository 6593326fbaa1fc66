import { pauseResumeVerb } from "./_pause-resume.ts";

export const { spec, main } = pauseResumeVerb("pause", "Hold back jobs: one job (a running one is stopped with SIGSTOP), or the queued jobs of a group or of the whole queue.");
