///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/Args.java ../lib/StepMain.java
//SOURCES ../lib/ArchiveFiles.java ../lib/SyncClient.java ../lib/StagedPaths.java ../lib/CrashPoint.java ../lib/Names.java

/*
 * Step 2 — download: fetches every photo staged on the site into DEST/<job_id>/<name>, one
 * folder per upload job, so that two jobs' IMG_0001.jpg both survive and each job keeps its
 * own _metadata.json (source and collection of its photos).
 *   - each file goes to a temporary name and is renamed only once its size matches the listing;
 *   - a file already there with the right size is skipped (re-running finishes an interrupted run);
 *   - a hostile path from the server (absolute, "..", outside DEST) is refused, the rest goes on;
 *   - a few downloads at a time, with a progress bar; exit 1 if any file failed, after trying all.
 * Step 7 — with --clear-after: clears on the site only the job folders whose every file is now
 * present locally with the right size (never {"all": true}), then marks exactly those jobs processed.
 * Options:  --dest DIR      where to download (default: raw_photos/pending)
 *           --dry-run       list what is staged and what would happen; change nothing
 *           --clear-after   clear fully downloaded jobs from the site's staging area (irreversible)
 *           --json          print a JSON summary on stdout
 * Needs RHODESLI_SITE_URL and RHODESLI_SYNC_TOKEN (.env or environment).
 * Example:  ./jbang download --dry-run
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

public class download_staged {
    static final String USAGE = "./jbang steps/download_staged.java [--dest DIR] [--dry-run] [--clear-after] [--json]";
    static final String ABOUT = """
            Step 2: download the photos staged on the site into DIR/<job_id>/<name> (one folder per upload job).
            With --clear-after (step 7), clear from the site's staging area only the jobs whose every file is
            now present locally with the right size, and mark those jobs processed.

            Example: ./jbang download --dry-run""";
    static final int PARALLEL = 3;

    public static void main(String[] argv) {
        StepMain.exit(() -> {
            Args args = new Args(USAGE, ABOUT)
                    .option("--dest", "DIR", "where to download (default: raw_photos/pending)")
                    .flag("--dry-run", "list what is staged and what would be done; change nothing")
                    .flag("--clear-after", "then clear fully downloaded jobs from the site's staging (irreversible)")
                    .flag("--json", "print one JSON summary on stdout; messages go to stderr")
                    .parse(argv);
            Console console = Console.standard(args.has("--json"));
            KitConfig config = KitConfig.load();
            SyncClient site = SyncClient.fromConfig(config);
            Result r = run(site, config.pendingDir(args.get("--dest")), args.has("--dry-run"), args.has("--clear-after"), console);
            console.emitJson(r.summary());
            return r.failures() == 0 ? StepMain.OK : StepMain.FAILED;
        });
    }

    enum Action { DOWNLOAD, PRESENT, REFUSED }

    /** One staged file and what will be done with it. */
    record FilePlan(SyncClient.StagedFile file, Path target, Action action, String refusal) {}

    /** One upload job: its files, and source/collection from its _metadata.json (null when it has none). */
    record JobPlan(String jobId, String source, String collection, boolean hasMetadata, List<FilePlan> files) {
        long bytes() {
            return files.stream().mapToLong(f -> f.file().sizeBytes()).sum();
        }
    }

    public record Result(ObjectNode summary, int failures, List<JobPlan> plan, List<String> fullyPresentJobs) {}

    /** Lists the site's staging area and decides, per file, what to do. Reads only; changes nothing. */
    static List<JobPlan> plan(SyncClient site, Path dest, Console console) {
        List<SyncClient.StagedFile> listing = site.listStaged();
        Map<String, List<FilePlan>> byJob = new LinkedHashMap<>();
        for (SyncClient.StagedFile f : listing) {
            FilePlan fp;
            try {
                Path target = StagedPaths.target(dest, f.path());
                boolean present = Files.isRegularFile(target) && sizeOf(target) == f.sizeBytes();
                fp = new FilePlan(f, target, present ? Action.PRESENT : Action.DOWNLOAD, null);
            } catch (KitException refused) {
                fp = new FilePlan(f, null, Action.REFUSED, refused.getMessage());
            }
            String job = fp.action() == Action.REFUSED ? "(refused)" : StagedPaths.jobOf(f.path());
            byJob.computeIfAbsent(job, k -> new ArrayList<>()).add(fp);
        }
        List<JobPlan> jobs = new ArrayList<>();
        for (var e : byJob.entrySet()) {
            String source = null, collection = null;
            boolean hasMetadata = false;
            for (FilePlan fp : e.getValue()) {
                if (fp.action() == Action.REFUSED || !fp.file().filename().equals("_metadata.json")) continue;
                hasMetadata = true;
                try {
                    JsonNode meta = JsonFiles.parse(site.downloadBytes(fp.file().path()), "job " + e.getKey() + "'s _metadata.json");
                    source = meta.path("source").asText(null);
                    collection = meta.path("collection").asText(null);
                } catch (KitException bad) {
                    console.warn(bad.getMessage() + " (its photos are downloaded all the same)");
                }
            }
            jobs.add(new JobPlan(e.getKey(), source, collection, hasMetadata, e.getValue()));
        }
        return jobs;
    }

    public static Result run(SyncClient site, Path dest, boolean dryRun, boolean clearAfter, Console console) throws Exception {
        List<JobPlan> jobs = plan(site, dest, console);
        printPlan(jobs, dest, console);
        ObjectNode summary = JsonFiles.object();
        summary.put("step", "download");
        summary.put("dest", dest.toString());
        summary.put("dry_run", dryRun);
        Map<FilePlan, String> errors = new ConcurrentHashMap<>();
        for (JobPlan j : jobs) for (FilePlan f : j.files()) if (f.action() == Action.REFUSED) errors.put(f, f.refusal());

        if (!dryRun) {
            int stale = AtomicFiles.removeStaleParts(dest);
            if (stale > 0) console.info("Removed " + stale + " unfinished download(s) left by an interrupted run; they are fetched again.");
            download(site, jobs, errors, console);
        }

        List<String> complete = new ArrayList<>();
        for (JobPlan j : jobs) if (isComplete(j, errors)) complete.add(j.jobId());
        ArrayNode jobsJson = summary.putArray("jobs");
        int downloaded = 0, skipped = 0;
        for (JobPlan j : jobs) {
            ObjectNode o = jobsJson.addObject();
            o.put("job_id", j.jobId());
            o.put("source", j.source());
            o.put("collection", j.collection());
            o.put("files", j.files().size());
            o.put("bytes", j.bytes());
            int jd = 0, js = 0, jf = 0;
            for (FilePlan f : j.files()) {
                if (errors.containsKey(f)) jf++;
                else if (f.action() == Action.PRESENT) js++;
                else if (!dryRun) jd++;
            }
            o.put(dryRun ? "to_download" : "downloaded", dryRun ? j.files().size() - js - jf : jd);
            o.put("already_present", js);
            o.put("failed", jf);
            o.put("complete_locally", complete.contains(j.jobId()));
            downloaded += jd;
            skipped += js;
        }
        summary.put("downloaded", downloaded);
        summary.put("photos_downloaded", photosDownloaded(jobs, errors, dryRun));
        summary.put("already_present", skipped);
        ArrayNode errs = summary.putArray("errors");
        errors.forEach((f, msg) -> errs.addObject().put("path", f.file().path()).put("error", msg));

        if (clearAfter) {
            List<String> clearable = clearableJobs(jobs, complete);
            for (JobPlan j : jobs) {
                if (!clearable.contains(j.jobId()) && !j.jobId().equals("(refused)")) {
                    console.info("  not clearing " + label(j) + ": " + (j.hasMetadata() ? "not every file is present locally" : "it is not an upload job (no _metadata.json)"));
                }
            }
            if (dryRun) {
                console.info("Dry run: would clear " + clearable.size() + " job(s) from staging: " + clearable);
                summary.set("would_clear", JsonFiles.MAPPER.valueToTree(clearable));
            } else {
                summary.set("cleared", JsonFiles.MAPPER.valueToTree(clearJobs(site, clearable, console)));
            }
        }
        if (!errors.isEmpty()) {
            console.error(errors.size() + " file(s) failed:");
            errors.forEach((f, msg) -> console.info("  " + f.file().path() + ": " + msg));
            console.info("Run the same command again to retry them; files already downloaded are skipped.");
        } else if (!dryRun && !jobs.isEmpty()) {
            console.ok("all staged files are in " + dest);
        }
        return new Result(summary, errors.size(), jobs, complete);
    }

    /** Photos (not the jobs' "_" metadata files) fetched by this run. */
    static int photosDownloaded(List<JobPlan> jobs, Map<FilePlan, String> errors, boolean dryRun) {
        if (dryRun) return 0;
        int n = 0;
        for (JobPlan j : jobs) {
            for (FilePlan f : j.files()) {
                if (f.action() == Action.DOWNLOAD && !errors.containsKey(f) && !f.file().filename().startsWith("_")) n++;
            }
        }
        return n;
    }

    /** Only upload jobs (with their _metadata.json) whose every file is present locally may be cleared. */
    static List<String> clearableJobs(List<JobPlan> jobs, List<String> complete) {
        List<String> out = new ArrayList<>();
        for (JobPlan j : jobs) if (j.hasMetadata() && !j.jobId().isEmpty() && complete.contains(j.jobId())) out.add(j.jobId());
        return out;
    }

    static boolean isComplete(JobPlan j, Map<FilePlan, String> errors) {
        if (j.jobId().equals("(refused)")) return false;
        for (FilePlan f : j.files()) {
            if (errors.containsKey(f) || f.target() == null) return false;
            if (!Files.isRegularFile(f.target()) || sizeOf(f.target()) != f.file().sizeBytes()) return false;
        }
        return true;
    }

    /**
     * Clears exactly these job folders from the site's staging area, then marks exactly the
     * jobs the site confirms removed as processed. Irreversible: callers decide which jobs are safe.
     * @return the job ids cleared
     */
    public static List<String> clearJobs(SyncClient site, List<String> jobIds, Console console) {
        if (jobIds.isEmpty()) {
            console.info("No job to clear from staging.");
            return List.of();
        }
        JsonNode answer = site.clearStaged(jobIds);
        List<String> removed = new ArrayList<>();
        for (JsonNode r : answer.path("removed")) if (jobIds.contains(r.asText())) removed.add(r.asText());
        for (JsonNode e : answer.path("errors")) console.warn("the site could not clear " + e.path("path").asText() + ": " + e.path("error").asText());
        if (!removed.isEmpty()) {
            JsonNode marked = site.markProcessed(removed);
            console.ok("cleared " + removed.size() + " job(s) from staging and marked " + marked.path("count").asInt() + " processed: " + removed);
        }
        return removed;
    }

    static void download(SyncClient site, List<JobPlan> jobs, Map<FilePlan, String> errors, Console console) throws InterruptedException {
        List<FilePlan> todo = new ArrayList<>();
        for (JobPlan j : jobs) for (FilePlan f : j.files()) if (f.action() == Action.DOWNLOAD) todo.add(f);
        if (todo.isEmpty()) return;
        long total = todo.stream().mapToLong(f -> f.file().sizeBytes()).sum();
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL);
        try (ProgressBar bar = console.progress("Downloading " + todo.size() + " file(s)", total, true)) {
            List<Future<?>> futures = new ArrayList<>();
            for (FilePlan f : todo) {
                futures.add(pool.submit(() -> {
                    try {
                        site.download(f.file().path(), f.target(), f.file().sizeBytes(), bar::advance);
                        CrashPoint.reach("download.file");
                    } catch (KitException e) {
                        errors.put(f, e.getMessage());
                    } catch (RuntimeException e) {
                        errors.put(f, "unexpected failure: " + e);
                    }
                }));
            }
            for (Future<?> fu : futures) {
                try {
                    fu.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    // each task records its own error
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    static void printPlan(List<JobPlan> jobs, Path dest, Console console) {
        if (jobs.isEmpty()) {
            console.info("No staged files on the site: nothing to download. (Upload photos through the site first.)");
            return;
        }
        int files = 0;
        long bytes = 0;
        console.info("Staged on the site (destination " + dest + "):");
        for (JobPlan j : jobs) {
            long present = j.files().stream().filter(f -> f.action() == Action.PRESENT).count();
            console.info(String.format("  %-12s %4d file(s) %10s   %s", label(j), j.files().size(), ProgressBar.formatBytes(j.bytes()),
                    j.hasMetadata() ? "source: " + orDash(j.source()) + " | collection: " + orDash(j.collection()) : "(no _metadata.json)")
                    + (present > 0 ? "   [" + present + " already here]" : ""));
            files += j.files().size();
            bytes += j.bytes();
        }
        console.info(String.format("  total: %d file(s), %s in %d job(s)", files, ProgressBar.formatBytes(bytes), jobs.size()));
    }

    private static String label(JobPlan j) {
        return j.jobId().isEmpty() ? "(top level)" : j.jobId();
    }

    private static String orDash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            return -1;
        }
    }
}
