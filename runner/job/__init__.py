"""The job's lifecycle, shared by every front door: prepare (compose and plan once), run through the policies
(resume, SIGTERM, out of memory, process isolation), record and report; what one invocation holds across its jobs."""
