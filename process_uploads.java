///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES steps/backup.java steps/download_staged.java steps/ingest_inbox.java steps/cluster_new_faces.java
//SOURCES lib/DownloadStep.java lib/ClearStep.java
//SOURCES steps/upload_to_r2.java steps/push_to_production.java
//SOURCES lib/RunJournal.java lib/CrashPoint.java lib/ModelCatalog.java sandbox/sandbox.java
//JAVA_OPTIONS -Xmx3g

/*
 * The whole upload-processing pipeline in one command, steps 1–7 in order, in one JVM (the face
 * models are loaded once). Each step is the same code as its script in steps/.
 *
 *   1 backup   2 download   3 faces (ingest)   4 matching (always stops for your review)
 *   5 upload to R2   6 push to the site   7 clear staging
 *
 * Modes:  (default)   interactive: asks before upload, push and clear
 *         --auto      no questions, except the review of step 4, which always waits
 *         --dry-run   steps 1–4 only: nothing changes on the site or in R2
 *         --json      one JSON summary on stdout (messages go to stderr)
 *         --sandbox   run against the local sandbox (a stand-in site and store, real photos), not the real site
 * Never loses an upload: staging is cleared only for jobs whose photos are all ingested, uploaded
 * (verified in R2) and pushed (verified on the site), in this run or an earlier one.
 * Resumable: data/runs/ journals what each step finished; a run that was killed is continued
 * by the next one, without downloading, ingesting or uploading anything twice.
 * Example:  ./jbang process_uploads.java --dry-run
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

public class process_uploads {
    static final String USAGE = "./jbang process_uploads.java [--auto | --dry-run] [--sandbox [--reset-sandbox]] [--json]";
    static final String ABOUT = """
            Runs the whole pipeline: 1 backup, 2 download staged uploads, 3 find and embed faces,
            4 propose matches (always stops for your review), 5 upload to R2, 6 push to the site,
            7 clear staging (only uploads that are safely in the archive).
            A run that was interrupted is continued where it stopped.

            With --sandbox it runs against a local stand-in of the site and of R2 (sandbox/work/), seeded on first
            use with real photos: the way to see every step work without touching anything real.

            Examples: ./jbang process_uploads.java --sandbox
                      ./jbang process_uploads.java --dry-run
                      ./jbang process_uploads.java --auto""";

    enum Mode { INTERACTIVE, AUTO, DRY_RUN }

    /** Where the archive lives; the sandbox uses its own. */
    public record Folders(Path data, Path photos, Path crops, Path pending, Path models) {
        static Folders of(KitConfig c) {
            return new Folders(c.dataDir(null), c.photosDir(null), c.cropsDir(null), c.pendingDir(null), c.modelsDir(null));
        }
    }

    /** The pipeline stopped before the end: why, and what to run to go on. */
    static final class Stopped extends RuntimeException {
        final boolean failure;

        Stopped(String why, boolean failure) {
            super(why);
            this.failure = failure;
        }
    }

    public static void main(String[] argv) {
        StepMain.exit(() -> {
            Args args = new Args(USAGE, ABOUT)
                    .flag("--auto", "no questions, except the review of step 4 (it always waits)")
                    .flag("--dry-run", "steps 1-4 only; change nothing on the site or in R2")
                    .flag("--sandbox", "run against the local sandbox in sandbox/work/, never the real site or R2")
                    .flag("--reset-sandbox", "with --sandbox: seed the sandbox again from scratch first")
                    .flag("--json", "print one JSON summary on stdout; messages go to stderr")
                    .parse(argv);
            args.atMostOneOf("--auto", "--dry-run");
            if (args.has("--reset-sandbox") && !args.has("--sandbox")) throw new Args.Usage("--reset-sandbox goes with --sandbox");
            Mode mode = args.has("--dry-run") ? Mode.DRY_RUN : args.has("--auto") ? Mode.AUTO : Mode.INTERACTIVE;
            Console console = Console.standard(args.has("--json"));
            KitConfig config = KitConfig.load();
            ObjectNode summary;
            if (args.has("--sandbox")) {
                try (sandbox.World world = sandbox.start(config.root(), args.has("--reset-sandbox"), console)) {
                    summary = run(world.config, new Folders(world.data(), world.photos(), world.crops(), world.pending(), world.models), mode, console);
                    summary.put("sandbox", world.work.toString());
                    console.info("SANDBOX run: its site, store and archive live in " + world.work
                            + " (review page, data, photos). Seed it again with --sandbox --reset-sandbox.");
                }
            } else {
                summary = run(config, Folders.of(config), mode, console);
            }
            console.emitJson(summary);
            return "failed".equals(summary.path("outcome").asText()) ? StepMain.FAILED : StepMain.OK;
        });
    }

    // ---- pre-flight ----------------------------------------------------------------------

    /** Everything missing, in one message, before anything starts. */
    static void preflight(KitConfig config, Folders f, Mode mode, Console console) {
        for (String w : config.warnings()) console.warn(w);
        List<String> missing = new ArrayList<>(config.missing(KitConfig.SITE_VARIABLES));
        if (mode != Mode.DRY_RUN) {
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
        try {
            ObjectNode doc = ModelCatalog.read(f.models());
            for (String role : List.of("detector", "landmarks", "recognizer")) {
                ObjectNode e = ModelCatalog.active(doc, role, f.models());
                if (e != null && !Files.isRegularFile(f.models().resolve(e.path("file").asText()))) {
                    problems.add("the " + role + " model " + f.models().resolve(e.path("file").asText()) + " is missing (run ./jbang fetch-models)");
                }
            }
        } catch (KitException e) {
            problems.add(e.getMessage() + (e.fix() == null ? "" : " (" + e.fix() + ")"));
        }
        if (!problems.isEmpty()) {
            for (String p : problems) console.error(p);
            throw new KitException("pre-flight check failed: nothing was started", "fix the problems above and run again");
        }
        for (String v : KitConfig.SITE_VARIABLES) console.info("  " + config.describe(v));
        if (mode != Mode.DRY_RUN) {
            for (String v : KitConfig.R2_VARIABLES) console.info("  " + config.describe(v));
            if (config.has(KitConfig.R2_ENDPOINT_URL)) console.info("  " + config.describe(KitConfig.R2_ENDPOINT_URL));
        }
    }

    // ---- the run -------------------------------------------------------------------------

    public static ObjectNode run(KitConfig config, Folders f, Mode mode, Console console) throws Exception {
        console.header("Upload processing" + (mode == Mode.DRY_RUN ? " (dry run: nothing changes on the site or in R2)"
                : mode == Mode.AUTO ? " (--auto: no questions except the review)" : ""));
        preflight(config, f, mode, console);
        SyncClient site = SyncClient.fromConfig(config);
        try (DataLock lock = DataLock.acquire(f.data(), "process_uploads")) {
            if (lock.staleLockReport() != null) console.warn(lock.staleLockReport());
            RunJournal journal = RunJournal.startOrResume(f.data(), mode.name().toLowerCase());
            if (journal.resumed()) {
                console.info("Resuming run " + journal.runId() + ", which was interrupted; finished steps are not repeated.");
                int stale = 0;
                for (Path dir : List.of(f.data(), f.photos(), f.crops())) stale += AtomicFiles.removeStaleParts(dir);
                if (stale > 0) console.info("Removed " + stale + " half-written temporary file(s) of the interrupted run.");
            } else {
                journal.setFact("before", archiveCounts(f.data()));
            }
            Run run = new Run(config, f, mode, console, site, journal);
            String outcome;
            try {
                run.steps();
                outcome = mode == Mode.DRY_RUN ? "dry-run" : "complete";
                journal.finish(outcome);
            } catch (Stopped s) {
                outcome = s.failure ? "failed" : "stopped";
                console.info("");
                if (s.failure) console.error(s.getMessage());
                else console.info(s.getMessage());
                console.info("The archive's data and its backups are safe (data/backups/). Staging on the site is untouched"
                        + " for every upload that is not safely in the archive.");
                console.info("To go on later: ./jbang process_uploads.java" + (mode == Mode.AUTO ? " --auto" : ""));
                journal.finish(outcome + ": " + s.getMessage());
            }
            ObjectNode summary = run.summary(outcome);
            printSummary(summary, console);
            return summary;
        }
    }

    /** One run of the pipeline: the steps in order, each skipped when the journal says it is done. */
    static final class Run {
        final KitConfig config;
        final Folders f;
        final Mode mode;
        final Console console;
        final SyncClient site;
        final RunJournal journal;

        Run(KitConfig config, Folders f, Mode mode, Console console, SyncClient site, RunJournal journal) {
            this.config = config;
            this.f = f;
            this.mode = mode;
            this.console = console;
            this.site = site;
            this.journal = journal;
        }

        /** A step's header; false when this run already finished it (resume). */
        boolean begin(int n, String step, String title) {
            console.header("Step " + n + "/7: " + title);
            if (journal.stepDone(step)) {
                console.info("Already done earlier in this run: skipped.");
                return false;
            }
            return true;
        }

        void steps() throws Exception {
            if (begin(1, "backup", "Backup")) {
                journal.markStepDone("backup", StepRunner.run(new BackupStep(), ctx()).toJson().get("result"));
            }
            CrashPoint.reach("after:backup");

            if (begin(2, "download", "Download staged uploads")) {
                StepRunner.Outcome<DownloadStep.Plan, DownloadStep.Result> o = StepRunner.run(new DownloadStep(site), ctx());
                journal.markJobs(o.result().completeJobs(), "downloaded");
                if (!o.result().failures().isEmpty()) {
                    for (String line : o.result().failures()) console.warn(line);
                    console.warn(o.result().failures().size() + " file(s) were not downloaded: their jobs wait for the next run.");
                }
                journal.markStepDone("download", o.toJson().get("result"));
            }
            CrashPoint.reach("after:download");

            if (begin(3, "ingest", "Face detection and embedding")) {
                journal.markStepDone("ingest", ingest());
            }
            CrashPoint.reach("after:ingest");

            if (begin(4, "cluster", "Matching against identified people")) {
                ObjectNode s = cluster_new_faces.run(new cluster_new_faces.Options(f.data(), f.models(), f.photos(), f.crops(),
                        null, false, null), console);
                journal.markStepDone("cluster", s);
            }
            String page = journal.stepSummary("cluster").path("review_page").asText(null);
            CrashPoint.reach("after:cluster");
            if (mode == Mode.DRY_RUN) {
                console.info("Dry run: stopping after step 4. Review page: " + page);
                return;
            }

            if (!journal.stepDone("review")) {
                console.info("");
                console.info("REVIEW: nothing has been merged or confirmed. Look at the proposals before going on:");
                console.info("  " + page);
                if (!console.confirm("Have you reviewed the proposals? Go on with upload, push and clear?")) {
                    throw new Stopped("Stopped at the review (step 4), as asked: nothing was uploaded, pushed or cleared.", false);
                }
                journal.markStepDone("review", null);
            }

            if (begin(5, "upload", "Upload photos and crops to R2")) {
                ask("Upload the new and changed photos and crops to R2?", "upload (step 5)");
                journal.markStepDone("upload", upload());
            }
            CrashPoint.reach("after:upload");

            if (begin(6, "push", "Push data to the site")) {
                ask("Merge with the site's data and push identities.json and photo_index.json?", "push (step 6)");
                ObjectNode s;
                try {
                    s = push_to_production.run(site, f.data(), false, console);
                } catch (KitException e) {
                    console.error(e);
                    throw new Stopped("The push failed: staging was left as it is. Fix the cause, then run again (or ./jbang push).", true);
                }
                journal.markJobs(journal.jobsAt("uploaded", "pushed"), "pushed");
                journal.markStepDone("push", s);
            }
            CrashPoint.reach("after:push");

            if (begin(7, "clear", "Clear staging")) {
                // Transitional until ingest, upload and push record in the job ledger themselves (the
                // journal rewrites data/runs/jobs.json whole, dropping the ledger's file lists): what
                // this journal saw pushed goes into the ledger, with the files present locally, and the
                // ledger's one rule decides the clear.
                JobLedger ledger = ctx().ledger();
                List<String> pushed = journal.jobsAt("pushed", "cleared");
                for (String job : pushed) ledger.recordDownload(job, localFiles(job), List.of());
                for (JobLedger.Milestone m : List.of(JobLedger.Milestone.INGESTED, JobLedger.Milestone.UPLOADED, JobLedger.Milestone.PUSHED)) {
                    ledger.mark(pushed, m);
                }
                ClearStep clear = new ClearStep(ClearStep.Options.standard(), site);
                ClearStep.Plan plan = clear.plan(ctx());
                plan.print(console);
                List<String> cleared = List.of();
                if (!plan.nothingToDo()) {
                    if (!plan.toClear().isEmpty()) ask("Clear " + plan.toClear().size() + " job(s) " + plan.toClear() + " from the site's staging area? This cannot be undone.", "clear (step 7)");
                    ClearStep.Result r = clear.apply(plan, ctx());
                    r.print(console);
                    for (String line : r.failures()) console.warn(line);
                    cleared = r.cleared();
                    journal.markJobs(cleared, "cleared");
                }
                ObjectNode s = JsonFiles.object();
                s.set("cleared", JsonFiles.MAPPER.valueToTree(cleared));
                journal.markStepDone("clear", s);
            }
        }

        /** Interactive mode asks; --auto goes on. "No" stops the run cleanly. */
        void ask(String question, String what) {
            if (mode == Mode.INTERACTIVE && !console.confirm(question)) {
                throw new Stopped("Stopped before " + what + ", as asked.", false);
            }
        }

        /** Step 3: every downloaded job not yet ingested, each in its own folder, models loaded once. */
        ObjectNode ingest() throws Exception {
            List<String> jobs = new ArrayList<>();
            for (String j : journal.jobsAt("downloaded", "ingested")) if (Files.isDirectory(f.pending().resolve(j))) jobs.add(j);
            ObjectNode s = JsonFiles.object();
            ArrayNode perJob = s.putArray("jobs");
            int faces = 0, photos = 0;
            if (jobs.isEmpty()) {
                console.info("No new upload to process.");
            } else {
                try (FaceModels models = FaceModels.open(f.models(), 1)) {
                    console.info(String.format("Models loaded in %.2f s (%s).", models.loadSeconds, models.embeddingModel));
                    for (String job : jobs) {
                        ObjectNode r = ingest_inbox.run(new ingest_inbox.Options(f.pending().resolve(job), job, null, null,
                                f.data(), f.photos(), f.crops(), f.models()), models, console);
                        perJob.add(r);
                        for (JsonNode p : r.path("photos")) faces += p.path("faces").size();
                        photos += r.path("photos").size();
                        ArrayNode ids = JsonFiles.MAPPER.createArrayNode();
                        for (JsonNode p : r.path("photos")) ids.add(p.path("photo_id").asText());
                        for (JsonNode d : r.path("duplicates")) if (d.hasNonNull("photo_id")) ids.add(d.path("photo_id").asText());
                        journal.setJobField(job, "photo_ids", ids);
                        if (r.path("errors").size() == 0) {
                            journal.markJobs(List.of(job), "ingested");
                        } else {
                            console.warn("job " + job + ": " + r.path("errors").size() + " file(s) could not be processed;"
                                    + " the job stays staged on the site until they are fixed (see the errors above).");
                        }
                        CrashPoint.reach("between:ingest-jobs");
                    }
                }
            }
            s.put("photos_added", photos);
            s.put("faces_found", faces);
            return s;
        }

        /** Step 5: uploads everything registered; the jobs whose every object is in R2 reach "uploaded". */
        ObjectNode upload() throws Exception {
            ObjectNode s = upload_to_r2.run(new upload_to_r2.Options(f.data(), f.photos(), f.crops(), true, true, true,
                    ObjectStore.DEFAULT_PARALLEL), config, console);
            Set<String> bad = new HashSet<>();
            for (JsonNode m : s.path("missing")) bad.add(m.path("key").asText());
            for (JsonNode m : s.path("failed")) bad.add(m.path("key").asText());
            ObjectNode index = new ArchiveFiles(f.data()).readPhotoIndex();
            List<String> uploaded = new ArrayList<>(), held = new ArrayList<>();
            for (String job : journal.jobsAt("ingested", "uploaded")) {
                boolean ok = true;
                for (String key : objectKeys(index, journal.jobField(job, "photo_ids"))) ok &= !bad.contains(key);
                (ok ? uploaded : held).add(job);
            }
            journal.markJobs(uploaded, "uploaded");
            if (s.path("failed").size() > 0 || !held.isEmpty()) {
                throw new Stopped("The upload to R2 did not complete (" + s.path("failed").size() + " file(s) failed"
                        + (held.isEmpty() ? "" : "; jobs held back: " + held) + "). Nothing was pushed and staging was left as it is."
                        + " Run again to retry: only what is still missing is sent.", true);
            }
            return s;
        }

        /** A job's files in the pending folder, by staged path ("<job>/<name>"), with their sizes. */
        Map<String, Long> localFiles(String job) throws java.io.IOException {
            Map<String, Long> out = new java.util.LinkedHashMap<>();
            Path dir = f.pending().resolve(job);
            if (!Files.isDirectory(dir)) return out;
            try (java.util.stream.Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                    out.put(job + "/" + dir.relativize(p).toString().replace('\\', '/'), Files.size(p));
                }
            }
            return out;
        }

        /** The steps' context: this run's folders and console. */
        KitContext ctx() {
            return new KitContext(config, Layout.standard(config.root()).withData(f.data()).withPhotos(f.photos()).withCrops(f.crops())
                    .withPending(f.pending()).withModels(f.models()), console, KitContext.Mode.APPLY);
        }

        ObjectNode summary(String outcome) throws Exception {
            ObjectNode s = JsonFiles.object();
            s.put("run_id", journal.runId());
            s.put("mode", mode.name().toLowerCase().replace('_', '-'));
            s.put("outcome", outcome);
            JsonNode dl = journal.stepSummary("download");
            int files = 0;
            if (dl != null) files = dl.path("photos_downloaded").asInt();
            s.put("photos_downloaded", files);
            JsonNode ing = journal.stepSummary("ingest");
            s.put("photos_added", ing == null ? 0 : ing.path("photos_added").asInt());
            s.put("faces_found", ing == null ? 0 : ing.path("faces_found").asInt());
            s.set("archive_before", journal.fact("before"));
            s.set("archive_after", archiveCounts(f.data()));
            s.set("proposals_by_label", proposalsByLabel(f.data()));
            JsonNode cl = journal.stepSummary("cluster");
            if (cl != null) s.put("review_page", cl.path("review_page").asText(null));
            JsonNode up = journal.stepSummary("upload");
            if (up != null) s.set("uploaded", up.path("sent"));
            JsonNode push = journal.stepSummary("push");
            if (push != null) s.set("push_report", push.path("merge_report"));
            JsonNode clear = journal.stepSummary("clear");
            s.set("jobs_cleared", clear == null ? JsonFiles.MAPPER.createArrayNode() : clear.path("cleared"));
            s.set("jobs_waiting", JsonFiles.MAPPER.valueToTree(waitingJobs()));
            ArrayNode backups = s.putArray("backups_written");
            JsonNode b = journal.stepSummary("backup");
            if (b != null && b.hasNonNull("label")) backups.add(b.get("label").asText());
            if (push != null && push.hasNonNull("backup")) backups.add(push.get("backup").asText());
            return s;
        }

        /** Jobs seen but not cleared, with how far each got: what the next run will finish. */
        Map<String, String> waitingJobs() {
            Map<String, String> out = new TreeMap<>();
            for (String job : journal.jobsAt("downloaded", "cleared")) {
                String at = "downloaded";
                for (String m : RunJournal.MILESTONES) if (journal.jobReached(job, m)) at = m;
                out.put(job, at);
            }
            return out;
        }
    }

    /** The keys in R2 that a job's photos need: raw_photos/<basename> and crops/<face_id>.jpg. */
    static Set<String> objectKeys(ObjectNode index, JsonNode photoIds) {
        Set<String> keys = new LinkedHashSet<>();
        if (photoIds == null) return keys;
        for (JsonNode id : photoIds) {
            JsonNode photo = index.path("photos").get(id.asText());
            if (photo == null) continue;
            String path = photo.path("path").asText();
            keys.add("raw_photos/" + path.substring(path.lastIndexOf('/') + 1));
            for (JsonNode face : photo.path("face_ids")) keys.add("crops/" + face.asText() + ".jpg");
        }
        return keys;
    }

    /** Identities by state and photos, as the summary shows them before and after. */
    static ObjectNode archiveCounts(Path dataDir) {
        ArchiveFiles files = new ArchiveFiles(dataDir);
        ObjectNode ids = files.readIdentities();
        Map<String, Integer> byState = new TreeMap<>();
        ids.path("identities").forEach(i -> {
            if (i.hasNonNull("merged_into")) return;
            byState.merge(i.path("state").asText("?"), 1, Integer::sum);
        });
        ObjectNode o = JsonFiles.object();
        o.put("identities", byState.values().stream().mapToInt(Integer::intValue).sum());
        o.set("by_state", JsonFiles.MAPPER.valueToTree(byState));
        o.put("photos", ArchiveFiles.photoCount(files.readPhotoIndex()));
        return o;
    }

    static ObjectNode proposalsByLabel(Path dataDir) {
        Map<String, Integer> by = new TreeMap<>();
        Path p = dataDir.resolve("proposals.json");
        if (Files.isRegularFile(p)) {
            try {
                for (JsonNode prop : JsonFiles.read(p).path("proposals")) by.merge(prop.path("confidence").asText("?"), 1, Integer::sum);
            } catch (Exception e) {
                // the summary is informative only; the cluster step reported any problem itself
            }
        }
        return JsonFiles.MAPPER.valueToTree(by);
    }

    static void printSummary(ObjectNode s, Console console) {
        console.header("Summary (" + s.path("outcome").asText() + ")");
        JsonNode before = s.path("archive_before"), after = s.path("archive_after");
        console.info("  photos downloaded:   " + s.path("photos_downloaded").asInt());
        console.info("  photos added:        " + s.path("photos_added").asInt() + "   faces found: " + s.path("faces_found").asInt());
        console.info("  photos in archive:   " + before.path("photos").asInt() + " -> " + after.path("photos").asInt());
        console.info("  identities:          " + before.path("identities").asInt() + " -> " + after.path("identities").asInt()
                + "   " + before.path("by_state") + " -> " + after.path("by_state"));
        console.info("  proposals by label:  " + s.path("proposals_by_label") + (s.hasNonNull("review_page") ? "   review: " + s.path("review_page").asText() : ""));
        if (s.has("uploaded")) {
            console.info("  uploaded to R2:      " + s.path("uploaded").path("files").asInt() + " object(s), "
                    + ProgressBar.formatBytes(s.path("uploaded").path("bytes").asLong()));
        }
        if (s.has("push_report")) console.info("  push (merge report): " + s.path("push_report"));
        console.info("  jobs cleared:        " + s.path("jobs_cleared"));
        if (s.path("jobs_waiting").size() > 0) console.info("  jobs still staged:   " + s.path("jobs_waiting") + " (the next run carries them on)");
        console.info("  backups written:     " + s.path("backups_written"));
    }
}
