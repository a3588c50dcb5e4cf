using Xunit;

// Test classes run one at a time: many start asrctl processes, and a process
// forked while another test's engine closes holds that engine's state-directory
// lock (an flock on an inherited descriptor) until it execs, so a reopen of the
// directory in that instant fails with "in use by PID <this process>".
[assembly: CollectionBehavior(DisableTestParallelization = true)]
