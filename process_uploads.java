///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx3g
//SOURCES lib/*.java

/*
 * The whole upload-processing pipeline in one command: the seven steps in order, in one JVM
 * (the face models are loaded once), each the same step class its script in steps/ runs.
 *
 *   1 backup   2 download   3 faces (ingest)   4 matching (always stops for your review)
 *   5 upload to R2   6 push to the site   7 clear staging
 *
 * Modes:  (default)   interactive: asks before upload, push and clear
 *         --auto      no questions, except the review of step 4, which always waits
 *         --dry-run   steps 1–4 run, nothing leaves the machine; then the plans of steps 5–7
 *                     (what would be uploaded, the push's merge report, which jobs would be cleared)
 *         --json      one JSON summary on stdout (messages go to stderr)
 *         --sandbox   against the sandbox's local stand-ins of the site and R2 (sandbox/work/), never the real ones
 * Never loses an upload: step 7 clears only the jobs the job ledger shows downloaded, ingested,
 * uploaded (verified in R2) and pushed (verified on the site) — JobLedger.clearDecision.
 * Resumable: data/runs/<run>/journal.json records each finished step's result; a run that was
 * killed is continued by the next one, without downloading, ingesting or uploading anything twice.
 * Exit: 0 complete (or nothing to do, or stopped at your "no"), 1 failed or incomplete, 2 usage.
 * Example:  ./jbang process_uploads.java --dry-run
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "process_uploads", mixinStandardHelpOptions = true, description = {
        "Runs the whole pipeline: 1 backup, 2 download staged uploads, 3 find and embed faces,",
        "4 propose matches (always stops for your review), 5 upload to R2, 6 push to the site,",
        "7 clear staging (only uploads that are safely in the archive).",
        "A run that was interrupted is continued where it stopped.", "",
        "Examples: ./jbang process_uploads.java --sandbox",
        "          ./jbang process_uploads.java --dry-run",
        "          ./jbang process_uploads.java --auto"})
public class process_uploads implements Callable<Integer> {
    @Option(names = "--auto", description = "no questions, except the review of step 4 (it always waits)")
    boolean auto;
    @Option(names = "--dry-run", description = "steps 1-4 only, nothing leaves the machine; then print the plans of steps 5-7")
    boolean dryRun;
    @Option(names = "--sandbox", description = "run against the local sandbox in sandbox/work/, never the real site or R2")
    boolean sandbox;
    @Option(names = "--reset-sandbox", description = "with --sandbox: seed the sandbox again from scratch first")
    boolean resetSandbox;
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.Output out;

    public enum Mode { INTERACTIVE, AUTO, DRY_RUN }

    public static void main(String... argv) {
        StepMain.exit(new process_uploads(), argv);
    }

    @Override
    public Integer call() throws Exception {
        if (auto && dryRun) throw new StepMain.UsageException("--auto and --dry-run do not go together");
        if (resetSandbox && !sandbox) throw new StepMain.UsageException("--reset-sandbox goes with --sandbox");
        Mode mode = dryRun ? Mode.DRY_RUN : auto ? Mode.AUTO : Mode.INTERACTIVE;
        KitContext ctx = KitOptions.context(out, folders, false);
        Summary summary;
        if (sandbox) {
            try (SandboxServers s = SandboxServers.start(ctx.config(), resetSandbox, ctx.console())) {
                summary = run(new KitContext(s.config(), s.layout(), ctx.console(), KitContext.Mode.APPLY), mode);
                ctx.console().info("SANDBOX run: its site, store and archive live in " + s.work()
                        + " (review page, data, photos). Seed it again with --sandbox --reset-sandbox.");
            }
        } else {
            summary = run(ctx, mode);
        }
        ctx.console().emitJson(JsonFiles.MAPPER.valueToTree(summary));
        return summary.outcome().equals(FAILED) || summary.outcome().equals(INCOMPLETE) ? StepMain.FAILED : StepMain.OK;
    }

    static final String COMPLETE = "complete", INCOMPLETE = "incomplete", FAILED = "failed", STOPPED = "stopped", DRY = "dry-run";

    /**
     * What a run did, as printed at its end and as its --json object. {@code plans} holds, in a
     * dry run, the plans of steps 5–7 (keys "upload", "push", "clear").
     */
    public record Summary(String runId, String mode, String outcome, int photosDownloaded, int photosAdded, int facesFound,
                          ArchiveCounts archiveBefore, ArchiveCounts archiveAfter, Map<String, Integer> proposalsByLabel,
                          String reviewPage, UploadStep.Result uploaded, JsonNode pushReport, List<String> jobsCleared,
                          Map<String, String> jobsWaiting, List<String> backupsWritten, List<String> failures,
                          Map<String, JsonNode> plans) {}

    /** Identities by state (merged-away ones left out) and photos: the archive before and after. */
    public record ArchiveCounts(int identities, Map<String, Integer> byState, int photos) {
        static ArchiveCounts of(Path dataDir) {
            ArchiveFiles files = new ArchiveFiles(dataDir);
            Map<String, Integer> byState = new TreeMap<>();
            files.readIdentities().path("identities").forEach(i -> {
                if (!Identities.isMerged(i)) byState.merge(i.path("state").asText("?"), 1, Integer::sum);
            });
            return new ArchiveCounts(byState.values().stream().mapToInt(Integer::intValue).sum(), byState,
                    ArchiveFiles.photoCount(files.readPhotoIndex()));
        }
    }

    /** What step 4 proposed in this run, as the review and the summary need it. */
    public record Proposals(int count, Map<String, Integer> byLabel, String reviewPage) {}

    /** The pipeline stopped before the end: why, and whether that is a failure or the user's "no". */
    static final class Stopped extends RuntimeException {
        final boolean failure;

        Stopped(String why, boolean failure) {
            super(why);
            this.failure = failure;
        }
    }

    // ---- pre-flight ------------------------------------------------------------------------

    /** Everything missing or broken, in one message, before anything starts. */
    static void preflight(KitContext ctx, boolean dryRun) {
        Console console = ctx.console();
        KitConfig config = ctx.config();
        List<String> missing = new ArrayList<>(config.missing(KitConfig.SITE_VARIABLES));
        if (!dryRun) {
            for (String v : KitConfig.R2_VARIABLES) {
                boolean endpointInstead = v.equals(KitConfig.R2_ACCOUNT_ID) && config.has(KitConfig.R2_ENDPOINT_URL);
                if (!config.has(v) && !endpointInstead) missing.add(v);
            }
        }
        List<String> problems = new ArrayList<>();
        if (!missing.isEmpty()) {
            problems.add("missing settings: " + String.join(", ", missing)
                    + " (set them in " + config.root().resolve(".env") + "; the R2 ones are not needed for --dry-run)");
        }
        // The archive must be whole before step 1 writes anything (steps check again before their own writes).
        for (String name : ArchiveFiles.NAMES) {
            Path f = ctx.layout().data().resolve(name);
            String why = Files.exists(f) ? ArchiveFiles.problem(f) : null;
            if (why != null) problems.add(why + " (restore a good copy: ./jbang restore --list, then ./jbang restore --latest)");
        }
        try {
            ObjectNode doc = ModelCatalog.read(ctx.layout().models());
            for (String role : List.of("detector", "landmarks", "recognizer")) {
                ObjectNode e = ModelCatalog.active(doc, role, ctx.layout().models());
                Path file = e == null ? null : ctx.layout().models().resolve(e.path("file").asText());
                if (file != null && !Files.isRegularFile(file)) problems.add("the " + role + " model " + file + " is missing (run ./jbang fetch-models)");
            }
        } catch (KitException e) {
            problems.add(e.getMessage() + (e.fix() == null ? "" : " (" + e.fix() + ")"));
        }
        if (!problems.isEmpty()) {
            for (String p : problems) console.error(p);
            throw new KitException("pre-flight check failed: nothing was started", "fix the problems above and run again");
        }
        for (String v : KitConfig.SITE_VARIABLES) console.info("  " + config.describe(v));
        if (!dryRun) {
            for (String v : KitConfig.R2_VARIABLES) console.info("  " + config.describe(v));
            if (config.has(KitConfig.R2_ENDPOINT_URL)) console.info("  " + config.describe(KitConfig.R2_ENDPOINT_URL));
        }
    }

    // ---- the run ---------------------------------------------------------------------------

    /** Runs the pipeline over {@code ctx}'s archive and settings (the tests call this directly). */
    public static Summary run(KitContext ctx, Mode mode) throws Exception {
        ModelCheck.beforeWork(ctx.layout(), ctx.console(), ModelCheck.OnMismatch.REFUSE);
        Console console = ctx.console();
        console.header("Upload processing" + (mode == Mode.DRY_RUN ? " (dry run: steps 1-4, nothing leaves this computer)"
                : mode == Mode.AUTO ? " (--auto: no questions except the review)" : ""));
        preflight(ctx, mode == Mode.DRY_RUN);
        try (DataLock lock = DataLock.acquire(ctx.layout().data(), "process_uploads")) {
            if (lock.staleLockReport() != null) console.warn(lock.staleLockReport());
            RunJournal journal = RunJournal.startOrResume(ctx.layout().runs(), mode.name().toLowerCase());
            if (journal.resumed()) {
                console.info("Resuming run " + journal.runId() + ", which was interrupted; finished steps are not repeated.");
                int stale = 0;
                for (Path dir : List.of(ctx.layout().data(), ctx.layout().photos(), ctx.layout().crops())) stale += AtomicFiles.removeStaleParts(dir);
                if (stale > 0) console.info("Removed " + stale + " half-written temporary file(s) of the interrupted run.");
            } else {
                journal.setFact("before", JsonFiles.MAPPER.valueToTree(ArchiveCounts.of(ctx.layout().data())));
            }
            Pipeline p = new Pipeline(ctx.withMode(KitContext.Mode.APPLY), mode, journal);
            String outcome;
            try {
                p.steps();
                outcome = !p.failures.isEmpty() ? INCOMPLETE : mode == Mode.DRY_RUN ? DRY : COMPLETE;
            } catch (Stopped s) {
                outcome = s.failure ? FAILED : STOPPED;
                console.info("");
                if (s.failure) console.error(s.getMessage());
                else console.info(s.getMessage());
                console.info("The archive's data and its backups are safe (data/backups/). Staging on the site is untouched"
                        + " for every upload that is not safely in the archive.");
                console.info("To go on later: ./jbang process_uploads.java" + (mode == Mode.AUTO ? " --auto" : ""));
            }
            journal.finish(outcome);
            Summary summary = p.summary(outcome);
            printSummary(summary, console);
            return summary;
        }
    }

    /** One run: the seven steps in order, each skipped when this run's journal says it is done. */
    static final class Pipeline {
        final KitContext ctx;
        final Mode mode;
        final RunJournal journal;
        final Console console;
        /** Everything that did not work in any step of this run (files, jobs): the run is then "incomplete". */
        final List<String> failures = new ArrayList<>();
        final Map<String, JsonNode> plans = new LinkedHashMap<>();

        Pipeline(KitContext ctx, Mode mode, RunJournal journal) {
            this.ctx = ctx;
            this.mode = mode;
            this.journal = journal;
            this.console = ctx.console();
        }

        void steps() throws Exception {
            step(1, "Backup", new BackupStep(), BackupStep.Result.class);
            CrashPoint.reach("after:backup");

            step(2, "Download staged uploads", new DownloadStep(), DownloadStep.Result.class);
            CrashPoint.reach("after:download");

            // The face models are loaded once, by the step, only when there is a photo to analyse.
            step(3, "Face detection and embedding", new IngestStep(IngestStep.Options.downloadedJobs()), IngestStep.Result.class);
            CrashPoint.reach("after:ingest");

            // Step 4 only proposes: its plan and review page, never its --execute.
            Proposals proposals = propose();
            CrashPoint.reach("after:cluster");
            review(proposals);
            if (mode == Mode.DRY_RUN) {
                printLaterPlans();
                return;
            }

            ask("Upload the new and changed photos and crops to R2?", "upload (step 5)", "upload");
            UploadStep.Result up = step(5, "Upload photos and crops to R2", new UploadStep(UploadStep.Options.defaults()), UploadStep.Result.class);
            if (up != null && !up.failures().isEmpty()) {
                throw new Stopped("The upload to R2 did not complete (" + up.failures().size() + " file(s) failed, listed above)."
                        + " Nothing was pushed and staging was left as it is. Run again to retry: only what is still missing is sent.", true);
            }
            CrashPoint.reach("after:upload");

            ask("Merge with the site's data and push identities.json and photo_index.json?", "push (step 6)", "push");
            String pushFailed = "The push failed: staging was left as it is. Fix the cause, then run again (or ./jbang push).";
            PushStep.Result pushed;
            try {
                pushed = step(6, "Push data to the site", new PushStep(), PushStep.Result.class);
            } catch (KitException e) {
                console.error(e);
                throw new Stopped(pushFailed, true);
            }
            if (pushed != null && !pushed.failures().isEmpty()) {
                for (String f : pushed.failures()) console.error(f);
                throw new Stopped(pushFailed, true);
            }
            CrashPoint.reach("after:push");

            ClearStep clear = new ClearStep(ClearStep.Options.standard());
            if (!journal.stepDone(clear.name())) {
                ClearStep.Plan plan = clear.plan(ctx);
                if (!plan.nothingToDo()) {
                    ask("Clear " + plan.toClear().size() + " job(s) " + plan.toClear() + " from the site's staging area? This cannot be undone.",
                            "clear (step 7)", "clear");
                }
            }
            step(7, "Clear staging", clear, ClearStep.Result.class);
        }

        /**
         * Runs one step through the StepRunner (the same code as its script), unless this run
         * already finished it: then its recorded result is read back. Failures are collected.
         */
        <P extends Step.Plan, R extends Step.Result> R step(int n, String title, Step<P, R> step, Class<R> type) throws Exception {
            console.header("Step " + n + "/7: " + title);
            R result;
            if (journal.stepDone(step.name())) {
                console.info("Already done earlier in this run: skipped.");
                result = journal.result(step.name(), type);
            } else {
                StepRunner.Outcome<P, R> o = StepRunner.run(step, ctx);
                journal.record(o);
                result = o.result();
            }
            if (result != null) failures.addAll(result.failures());
            return result;
        }

        /** Step 4 in the pipeline: the proposals and the review page, nothing applied. */
        Proposals propose() throws Exception {
            console.header("Step 4/7: Matching against identified people");
            ClusterStep cluster = new ClusterStep(ClusterStep.Options.defaults());
            if (journal.stepDone(cluster.name())) {
                console.info("Already done earlier in this run: skipped.");
                return journal.mark(cluster.name(), Proposals.class);
            }
            ClusterStep.Plan plan = StepRunner.run(cluster, ctx.withMode(KitContext.Mode.DRY_RUN)).plan();
            Proposals made = new Proposals(plan.proposals().size(), plan.byLabel(), plan.reviewPage() == null ? null : plan.reviewPage().toString());
            journal.recordMark(cluster.name(), JsonFiles.MAPPER.valueToTree(made));
            return made;
        }

        /**
         * The one human step; it always waits, with --auto too. At a terminal the review page
         * (./jbang review) is served and the decisions made there are applied before going on;
         * elsewhere (a script, no terminal) the page can be reviewed later with ./jbang review.
         * Then "go on?": "no", or no answer at all, stops cleanly.
         */
        void review(Proposals proposals) throws Exception {
            if (journal.stepDone("review")) return;
            console.info("");
            console.info("REVIEW: nothing has been merged or confirmed. The proposals: " + proposals.reviewPage());
            JsonNode decided = null;
            if (console.isTerminal() && proposals.count() > 0) {
                ReviewSession.Outcome o = ReviewSession.run(mode == Mode.DRY_RUN ? ctx.withMode(KitContext.Mode.DRY_RUN) : ctx,
                        ReviewSession.ReviewMode.BROWSER);
                for (String line : o.lines()) console.info(line);
                decided = o.toJson();
            } else {
                console.info("Decide about each one with ./jbang review (a page on this computer) or ./jbang review --terminal;"
                        + " going on without decisions leaves identities.json as it is.");
            }
            if (mode == Mode.DRY_RUN) return;
            if (!console.confirm("Have you reviewed the proposals? Go on with upload, push and clear?")) {
                throw new Stopped("Stopped at the review (step 4), as asked: nothing was uploaded, pushed or cleared.", false);
            }
            journal.recordMark("review", decided);
        }

        /** A dry run: what steps 5–7 would do, computed by those steps' own plans. */
        void printLaterPlans() throws Exception {
            KitContext dry = ctx.withMode(KitContext.Mode.DRY_RUN);
            console.header("Dry run: what steps 5-7 would do");
            UploadStep upload = new UploadStep(UploadStep.Options.defaults());
            plans.put("upload", StepRunner.run(upload, dry).plan().toJson());
            plans.put("push", StepRunner.run(new PushStep(), dry).plan().toJson());
            // Which jobs would be cleared once upload and push succeed: the one clearing rule, asked with those assumed.
            plans.put("clear", StepRunner.run(new ClearStep(new ClearStep.Options(ClearStep.Force.NO, ClearStep.Assume.UPLOADED_AND_PUSHED)), dry)
                    .plan().toJson());
        }

        /** Interactive mode asks; --auto goes on. "No" stops the run cleanly. Not asked again for a step already done. */
        void ask(String question, String what, String step) {
            if (mode == Mode.INTERACTIVE && !journal.stepDone(step) && !console.confirm(question)) {
                throw new Stopped("Stopped before " + what + ", as asked.", false);
            }
        }

        Summary summary(String outcome) throws Exception {
            DownloadStep.Result dl = journal.result("download", DownloadStep.Result.class);
            IngestStep.Result ing = journal.result("ingest", IngestStep.Result.class);
            Proposals cl = journal.mark("cluster", Proposals.class);
            UploadStep.Result up = journal.result("upload", UploadStep.Result.class);
            PushStep.Result push = journal.result("push", PushStep.Result.class);
            ClearStep.Result clear = journal.result("clear", ClearStep.Result.class);
            BackupStep.Result backup = journal.result("backup", BackupStep.Result.class);
            List<String> backups = new ArrayList<>();
            if (backup != null && backup.label() != null) backups.add(backup.label());
            if (push != null && push.backupLabel() != null) backups.add(push.backupLabel());
            ArchiveCounts before = JsonFiles.MAPPER.treeToValue(journal.fact("before"), ArchiveCounts.class);
            return new Summary(journal.runId(), mode.name().toLowerCase().replace('_', '-'), outcome,
                    dl == null ? 0 : dl.photosDownloaded(), ing == null ? 0 : ing.photosAdded(), ing == null ? 0 : ing.facesFound(),
                    before, ArchiveCounts.of(ctx.layout().data()), cl == null ? Map.of() : cl.byLabel(), cl == null ? null : cl.reviewPage(),
                    up, push == null ? null : JsonFiles.MAPPER.valueToTree(push.report()), clear == null ? List.of() : clear.cleared(),
                    waitingJobs(), backups, failures, plans);
        }

        /** Jobs seen but not cleared, with why each waits and what finishes it: the clearing rule's own answer. */
        Map<String, String> waitingJobs() {
            JobLedger ledger = ctx.ledger();
            Map<String, String> out = new TreeMap<>();
            for (String job : ledger.jobIds()) {
                if (ledger.reached(job, JobLedger.Milestone.CLEARED)) continue;
                JobLedger.ClearDecision d = ledger.clearDecision(job, Map.of(), false);
                out.put(job, d.clear() ? "ready to clear" : d.why() + (d.next() == null ? "" : " -> " + d.next()));
            }
            return out;
        }
    }

    static void printSummary(Summary s, Console console) {
        console.header("Summary (" + s.outcome() + ")");
        ArchiveCounts before = s.archiveBefore(), after = s.archiveAfter();
        console.info("  photos downloaded:   " + s.photosDownloaded());
        console.info("  photos added:        " + s.photosAdded() + "   faces found: " + s.facesFound());
        if (before != null) {
            console.info("  photos in archive:   " + before.photos() + " -> " + after.photos());
            console.info("  identities:          " + before.identities() + " -> " + after.identities()
                    + "   " + before.byState() + " -> " + after.byState());
        }
        console.info("  proposals by label:  " + s.proposalsByLabel() + (s.reviewPage() != null ? "   review: " + s.reviewPage() : ""));
        if (s.uploaded() != null) {
            console.info("  uploaded to R2:      " + s.uploaded().filesSent() + " object(s), " + ProgressBar.formatBytes(s.uploaded().bytesSent()));
        }
        if (s.pushReport() != null) console.info("  push (merge report): " + JsonFiles.compact(s.pushReport()));
        console.info("  jobs cleared:        " + s.jobsCleared());
        if (!s.jobsWaiting().isEmpty()) {
            console.info("  jobs still staged:");
            s.jobsWaiting().forEach((job, why) -> console.info("    " + job + ": " + why));
        }
        console.info("  backups written:     " + s.backupsWritten());
        if (!s.failures().isEmpty()) {
            console.error(s.failures().size() + " problem(s) in this run; their jobs stay staged until they are fixed:");
            for (String f : s.failures()) console.info("    " + f);
        }
    }
}
