import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Step 7 — clear: removes from the site's staging area the upload jobs that are safely in the
 * archive, and marks exactly those processed. The kit's one irreversible action, and the only
 * code that does it: the pipeline and {@code download --clear-after} both run this step, and
 * whether a job may go is {@link JobLedger#clearDecision}'s answer, nothing else.
 *
 * <p>A clear the site carried out but the kit never saw the end of (killed right after the
 * site answered) settles on the next run: a job the rule allows that is already gone from
 * staging, or that the site answers "not found" for, counts as cleared, and the
 * mark-processed and the ledger's CLEARED are finished.
 */
public final class ClearStep implements Step<ClearStep.Plan, ClearStep.Result> {

    /** YES clears a downloaded job even when it is not yet in the archive, after a warning naming what is not. */
    public enum Force { NO, YES }

    /** NOTHING: the ledger as it is. UPLOADED_AND_PUSHED: the pipeline's dry run, asking what would be cleared after its upload and push. */
    public enum Assume { NOTHING, UPLOADED_AND_PUSHED }

    public record Options(Force force, Assume assume) {
        public Options(Force force) {
            this(force, Assume.NOTHING);
        }

        public static Options standard() {
            return new Options(Force.NO);
        }

        Set<JobLedger.Milestone> assumed() {
            return assume == Assume.UPLOADED_AND_PUSHED ? Set.of(JobLedger.Milestone.UPLOADED, JobLedger.Milestone.PUSHED) : Set.of();
        }
    }

    /** CLEAR: remove from staging; SETTLE: already gone from staging, finish marking it; KEEP: leave it staged. */
    public enum Action { CLEAR, SETTLE, KEEP }

    /**
     * One job's line of the plan. {@code next} is what to run for a job that is kept;
     * {@code notInArchive} is what a forced clear loses (empty unless forced).
     */
    public record JobClear(String jobId, Action action, String why, String next, List<String> notInArchive) {}

    public record Plan(Force force, Path pendingDir, List<JobClear> jobs) implements Step.Plan {
        /** The job folders apply asks the site to remove. */
        public List<String> toClear() {
            return ids(Action.CLEAR);
        }

        /** Jobs already gone from staging whose clear apply finishes. */
        public List<String> toSettle() {
            return ids(Action.SETTLE);
        }

        private List<String> ids(Action a) {
            List<String> out = new ArrayList<>();
            for (JobClear j : jobs) if (j.action() == a) out.add(j.jobId());
            return out;
        }

        @Override
        public boolean nothingToDo() {
            return toClear().isEmpty() && toSettle().isEmpty();
        }

        @Override
        public void print(Console c) {
            for (JobClear j : jobs) {
                switch (j.action()) {
                    case CLEAR -> {
                        if (j.notInArchive().isEmpty()) {
                            c.info("  clear " + j.jobId() + ": " + j.why());
                        } else {
                            c.warn("--force clears job " + j.jobId() + " although " + String.join("; ", j.notInArchive())
                                    + ". The site keeps no other copy: after the clear its files exist only in " + pendingDir.resolve(j.jobId()) + ".");
                        }
                    }
                    case SETTLE -> c.info("  settle " + j.jobId() + ": " + j.why());
                    case KEEP -> c.info("  not clearing " + j.jobId() + ": " + j.why() + (j.next() == null ? "" : "\n      next: " + j.next()));
                }
            }
            List<String> clear = toClear(), settle = toSettle();
            if (clear.isEmpty() && settle.isEmpty()) {
                c.info("No job to clear from staging.");
            } else {
                c.info("Clear from the site's staging: " + (clear.isEmpty() ? "none" : clear)
                        + (settle.isEmpty() ? "" : "; finish the interrupted clear of " + settle) + " (irreversible).");
            }
        }
    }

    /** Why a job stays staged and what to run next. */
    public record NotCleared(String why, String next) {}

    /**
     * @param cleared         jobs removed from staging (or found already gone) and marked processed
     * @param notCleared      every other job of the plan, with why and what to run next
     */
    public record Result(List<String> cleared, Map<String, NotCleared> notCleared, List<String> failures) implements Step.Result {
        @Override
        public void print(Console c) {
            if (!cleared.isEmpty()) c.ok("cleared " + cleared.size() + " job(s) from staging and marked them processed: " + cleared);
        }
    }

    private final Options options;
    private SyncClient site;

    public ClearStep(Options options) {
        this.options = options;
    }

    /** With this client (the pipeline's one client; tests' short timeouts). */
    public ClearStep(Options options, SyncClient site) {
        this.options = options;
        this.site = site;
    }

    @Override
    public String name() {
        return "clear";
    }

    private SyncClient site(KitContext ctx) {
        if (site == null) site = SyncClient.fromConfig(ctx.config());
        return site;
    }

    @Override
    public Plan plan(KitContext ctx) {
        boolean force = options.force() == Force.YES;
        Map<String, Map<String, Long>> staged = new LinkedHashMap<>();
        for (SyncClient.StagedFile f : site(ctx).listStaged()) {
            String job = StagedPaths.jobOf(f.path());
            if (!job.isEmpty()) staged.computeIfAbsent(job, k -> new LinkedHashMap<>()).put(f.path(), f.sizeBytes());
        }
        JobLedger ledger = ctx.ledger();
        Set<String> jobs = new LinkedHashSet<>(staged.keySet());
        for (String id : ledger.jobIds()) if (!ledger.reached(id, JobLedger.Milestone.CLEARED)) jobs.add(id);

        List<JobClear> out = new ArrayList<>();
        for (String id : jobs) {
            Map<String, Long> now = staged.get(id);
            JobLedger.Job known = ledger.job(id);
            if (known == null && now != null && !now.containsKey(id + "/_metadata.json")) {
                out.add(new JobClear(id, Action.KEEP, "it is not an upload job (no _metadata.json): the kit never clears it", null, List.of()));
                continue;
            }
            // A path the kit may not send as a job folder is never cleared, whatever the ledger says.
            if (!StagedPaths.isJobFolder(id)) {
                out.add(new JobClear(id, Action.KEEP, "its name is not a job folder the kit may clear", null, List.of()));
                continue;
            }
            JobLedger.ClearDecision d = ledger.clearDecision(id, now == null ? Map.of() : now, force, options.assumed());
            if (now == null) {
                out.add(d.clear()
                        ? new JobClear(id, Action.SETTLE, "already gone from the site's staging (an earlier clear was interrupted):"
                                + " it is marked processed now", null, d.notInArchive())
                        : new JobClear(id, Action.KEEP, "it is gone from the site's staging already, but " + d.why()
                                + "; its files are only in " + ctx.layout().pending().resolve(id), d.next(), List.of()));
            } else {
                out.add(new JobClear(id, d.clear() ? Action.CLEAR : Action.KEEP, d.why(), d.next(), d.notInArchive()));
            }
        }
        return new Plan(options.force(), ctx.layout().pending(), out);
    }

    @Override
    public Result apply(Plan plan, KitContext ctx) throws IOException {
        Console console = ctx.console();
        List<String> toClear = plan.toClear();
        List<String> failures = new ArrayList<>();
        Map<String, NotCleared> notCleared = new LinkedHashMap<>();
        for (JobClear j : plan.jobs()) if (j.action() == Action.KEEP) notCleared.put(j.jobId(), new NotCleared(j.why(), j.next()));
        if (plan.nothingToDo()) return new Result(List.of(), notCleared, failures);

        try (DataLock lock = DataLock.acquire(ctx.layout().data(), "clear")) {
            if (lock.staleLockReport() != null) console.warn(lock.staleLockReport());
            SyncClient s = site(ctx);
            List<String> gone = new ArrayList<>(plan.toSettle());
            if (!toClear.isEmpty()) {
                JsonNode answer;
                try {
                    answer = s.clearStaged(toClear);
                } catch (KitException e) {
                    for (String id : toClear) {
                        notCleared.put(id, new NotCleared("the site did not answer the clear: " + e.getMessage(), "run the clear again"));
                        failures.add("job " + id + ": the site did not answer the clear (" + e.getMessage() + ") -> run the clear again;"
                                + " a job the site removed meanwhile is settled then");
                    }
                    return new Result(List.of(), notCleared, failures);
                }
                CrashPoint.reach("clear.after-site");
                for (JsonNode r : answer.path("removed")) if (toClear.contains(r.asText()) && !gone.contains(r.asText())) gone.add(r.asText());
                for (JsonNode e : answer.path("errors")) {
                    String path = e.path("path").asText(), error = e.path("error").asText();
                    if (!toClear.contains(path) || gone.contains(path)) continue;
                    if (error.equals("not found")) {
                        // the folder went between the listing and the clear (or an earlier clear removed it): it is cleared
                        console.info("  " + path + " was already gone from staging: counted as cleared");
                        gone.add(path);
                    } else {
                        notCleared.put(path, new NotCleared("the site could not clear it: " + error, "run the clear again"));
                        failures.add("job " + path + ": the site could not clear it (" + error + ") -> run the clear again; check the site's staging folder if it persists");
                    }
                }
            }
            if (gone.isEmpty()) return new Result(List.of(), notCleared, failures);
            try {
                s.markProcessed(gone);
            } catch (KitException e) {
                // Without CLEARED in the ledger the next run finds these jobs gone from staging and finishes them.
                for (String id : gone) {
                    notCleared.put(id, new NotCleared("removed from staging, but not yet marked processed: " + e.getMessage(), "run the clear again"));
                    failures.add("job " + id + ": removed from staging but the site did not mark it processed (" + e.getMessage()
                            + ") -> run the clear again to finish it");
                }
                return new Result(List.of(), notCleared, failures);
            }
            ctx.ledger().mark(gone, JobLedger.Milestone.CLEARED);
            return new Result(gone, notCleared, failures);
        }
    }
}
