import { pauseResumeVerb } from "./_pause-resume.ts";

export const { spec, main } = pauseResumeVerb("resume", "Release what pause held back (and end a drain).");
