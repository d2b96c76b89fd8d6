import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Step 2 — download: every file staged on the site into pending/<job_id>/<name>, one folder per
 * upload job, so two jobs' IMG_0001.jpg both survive and each job keeps its _metadata.json.
 * Each file goes to a temporary name and is renamed once its size matches the listing; a file
 * already there with the right size is not fetched again. A name the kit refuses (hostile path,
 * control character) stays on the site and is recorded against ITS job in the ledger, so that
 * job is never cleared while the file exists only there.
 */
public final class DownloadStep implements Step<DownloadStep.Plan, DownloadStep.Result> {
    static final int PARALLEL = 3;

    public enum Action { DOWNLOAD, PRESENT, REFUSED }

    /**
     * One staged file and what will be done with it. {@code path} is the site's, raw: print it
     * through {@link Names#printable}. {@code target} is null for a refused file, {@code why} is
     * null unless it is refused.
     */
    public record FilePlan(String path, String filename, long sizeBytes, Action action, Path target, String why) {
        boolean photo() {
            return !filename.startsWith("_");
        }
    }

    /**
     * One staged folder. {@code jobId} "" holds files outside any job folder. Only an upload job
     * (a job folder with its _metadata.json) is recorded in the ledger, so only it can ever be cleared.
     */
    public record JobPlan(String jobId, String source, String collection, boolean uploadJob, List<FilePlan> files) {
        long bytes() {
            return files.stream().mapToLong(FilePlan::sizeBytes).sum();
        }

        String label() {
            return jobId.isEmpty() ? "(outside any job folder)" : jobId;
        }
    }

    public record Plan(Path pendingDir, List<JobPlan> jobs, List<String> warnings) implements Step.Plan {
        @Override
        public boolean nothingToDo() {
            // a refused file still gets its job recorded in the ledger (as left on the site)
            return jobs.stream().allMatch(j -> j.files().stream().allMatch(f -> f.action() == Action.PRESENT) && !j.uploadJob());
        }

        @Override
        public void print(Console c) {
            for (String w : warnings) c.warn(w);
            if (jobs.isEmpty()) {
                c.info("No staged files on the site: nothing to download. (Upload photos through the site first.)");
                return;
            }
            int files = 0;
            long bytes = 0;
            c.info("Staged on the site (destination " + pendingDir + "):");
            for (JobPlan j : jobs) {
                long present = j.files().stream().filter(f -> f.action() == Action.PRESENT).count();
                long todo = j.files().stream().filter(f -> f.action() == Action.DOWNLOAD).count();
                c.info(String.format("  %-12s %4d file(s) %10s   %s", j.label(), j.files().size(), ProgressBar.formatBytes(j.bytes()),
                        j.uploadJob() ? "source: " + orDash(j.source()) + " | collection: " + orDash(j.collection())
                                : "(no _metadata.json: not an upload job)")
                        + "   [" + todo + " to download" + (present > 0 ? ", " + present + " already here" : "") + "]");
                for (FilePlan f : j.files()) {
                    if (f.action() == Action.REFUSED) c.info("      refused " + Names.printable(f.path()) + ": " + f.why() + " (left on the site)");
                }
                files += j.files().size();
                bytes += j.bytes();
            }
            c.info(String.format("  total: %d file(s), %s in %d folder(s)", files, ProgressBar.formatBytes(bytes), jobs.size()));
        }
    }

    /** What became of one staged folder: its files downloaded now, already present, and left on the site (with why). */
    public record JobResult(String jobId, boolean uploadJob, List<String> downloaded, List<String> alreadyPresent,
                            List<JobLedger.LeftFile> left) {
        /** Every file of the job is present locally (what the ledger records as downloaded). */
        public boolean complete() {
            return left.isEmpty();
        }
    }

    /**
     * @param photosDownloaded photo files (not the jobs' "_" metadata files) fetched by this run
     * @param filesDownloaded  every file fetched by this run
     * @param alreadyPresent   files that were already there with the right size
     */
    public record Result(Path pendingDir, List<JobResult> jobs, int photosDownloaded, int filesDownloaded, int alreadyPresent,
                         List<String> failures) implements Step.Result {
        @Override
        public void print(Console c) {
            // the files left on the site are the failures, which the runner lists one per line
            for (JobResult j : jobs) {
                if (!j.left().isEmpty() && j.uploadJob()) {
                    c.warn("job " + j.jobId() + " stays staged (never cleared) while " + j.left().size() + " of its files are left on the site");
                }
            }
            if (failures.isEmpty() && !jobs.isEmpty()) c.ok("all staged files are in " + pendingDir
                    + " (" + filesDownloaded + " downloaded now, " + alreadyPresent + " already there)");
        }

        /** The upload jobs whose every file is now present locally: downloaded in the ledger. */
        public List<String> completeJobs() {
            List<String> out = new ArrayList<>();
            for (JobResult j : jobs) if (j.uploadJob() && j.complete()) out.add(j.jobId());
            return out;
        }
    }

    private SyncClient site;

    /** Talks to the site configured in the context (RHODESLI_SITE_URL, RHODESLI_SYNC_TOKEN). */
    public DownloadStep() {}

    /** Talks to this client (the pipeline's one client; tests' short timeouts). */
    public DownloadStep(SyncClient site) {
        this.site = site;
    }

    @Override
    public String name() {
        return "download";
    }

    private SyncClient site(KitContext ctx) {
        if (site == null) site = SyncClient.fromConfig(ctx.config());
        return site;
    }

    @Override
    public Plan plan(KitContext ctx) {
        Path dest = ctx.layout().pending();
        SyncClient s = site(ctx);
        Map<String, List<FilePlan>> byJob = new LinkedHashMap<>();
        for (SyncClient.StagedFile f : s.listStaged()) {
            String why = StagedPaths.refusal(dest, f.path());
            FilePlan fp;
            if (why != null) {
                fp = new FilePlan(f.path(), f.filename(), f.sizeBytes(), Action.REFUSED, null, "its name is refused: " + why);
            } else {
                Path target = StagedPaths.target(dest, f.path());
                boolean present = Files.isRegularFile(target) && sizeOf(target) == f.sizeBytes();
                fp = new FilePlan(f.path(), f.filename(), f.sizeBytes(), present ? Action.PRESENT : Action.DOWNLOAD, target, null);
            }
            byJob.computeIfAbsent(StagedPaths.jobOf(f.path()), k -> new ArrayList<>()).add(fp);
        }
        List<JobPlan> jobs = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        for (var e : byJob.entrySet()) {
            String jobId = e.getKey(), source = null, collection = null;
            boolean hasMetadata = false;
            for (FilePlan fp : e.getValue()) {
                if (fp.action() == Action.REFUSED || !fp.path().equals(jobId + "/_metadata.json")) continue;
                hasMetadata = true;
                try {
                    JsonNode meta = JsonFiles.parse(s.downloadBytes(fp.path()), "job " + jobId + "'s _metadata.json");
                    source = meta.path("source").asText(null);
                    collection = meta.path("collection").asText(null);
                } catch (KitException bad) {
                    warnings.add(bad.getMessage() + " (its photos are downloaded all the same)");
                }
            }
            jobs.add(new JobPlan(jobId, source, collection, hasMetadata && !jobId.isEmpty(), e.getValue()));
        }
        return new Plan(dest, jobs, warnings);
    }

    @Override
    public Result apply(Plan plan, KitContext ctx) throws IOException, InterruptedException {
        Console console = ctx.console();
        try (DataLock lock = DataLock.acquire(ctx.layout().data(), "download")) {
            if (lock.staleLockReport() != null) console.warn(lock.staleLockReport());
            int stale = AtomicFiles.removeStaleParts(plan.pendingDir());
            if (stale > 0) console.info("Removed " + stale + " unfinished download(s) left by an interrupted run; they are fetched again.");
            Map<FilePlan, String> errors = download(site(ctx), plan, console);

            JobLedger ledger = ctx.ledger();
            List<JobResult> jobs = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            int photos = 0, fetched = 0, present = 0;
            for (JobPlan j : plan.jobs()) {
                List<String> downloaded = new ArrayList<>(), already = new ArrayList<>();
                List<JobLedger.LeftFile> left = new ArrayList<>();
                Map<String, Long> files = new LinkedHashMap<>();
                for (FilePlan f : j.files()) {
                    String error = f.action() == Action.REFUSED ? f.why() : errors.get(f);
                    if (error == null && sizeOf(f.target()) != f.sizeBytes()) error = "it is not in " + f.target() + " with its listed size any more";
                    if (error != null) {
                        left.add(new JobLedger.LeftFile(f.path(), error));
                        failures.add(failureLine(j, f, error));
                        continue;
                    }
                    files.put(f.path(), f.sizeBytes());
                    if (f.action() == Action.PRESENT) {
                        already.add(f.path());
                        present++;
                    } else {
                        downloaded.add(f.path());
                        fetched++;
                        if (f.photo()) photos++;
                    }
                }
                if (j.uploadJob()) ledger.recordDownload(j.jobId(), files, left);
                jobs.add(new JobResult(j.jobId(), j.uploadJob(), downloaded, already, left));
            }
            return new Result(plan.pendingDir(), jobs, photos, fetched, present, failures);
        }
    }

    private static String failureLine(JobPlan j, FilePlan f, String error) {
        String name = Names.printable(f.path());
        if (f.action() == Action.REFUSED) {
            return name + ": left on the site, " + error + " -> rename or re-upload it on the site, then ./jbang download"
                    + (j.jobId().isEmpty() ? "" : " (the rest of job " + j.jobId() + " is downloaded and stays staged until then)");
        }
        return name + ": " + error + " -> run the same command again to retry; files already downloaded are skipped";
    }

    /** Downloads every DOWNLOAD file, a few at a time; returns the files that failed, with why. */
    private static Map<FilePlan, String> download(SyncClient site, Plan plan, Console console) throws InterruptedException {
        Map<FilePlan, String> errors = new ConcurrentHashMap<>();
        List<FilePlan> todo = new ArrayList<>();
        for (JobPlan j : plan.jobs()) for (FilePlan f : j.files()) if (f.action() == Action.DOWNLOAD) todo.add(f);
        if (todo.isEmpty()) return errors;
        long total = todo.stream().mapToLong(FilePlan::sizeBytes).sum();
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL);
        try (ProgressBar bar = console.progress("Downloading " + todo.size() + " file(s)", total, true)) {
            List<Future<?>> futures = new ArrayList<>();
            for (FilePlan f : todo) {
                futures.add(pool.submit(() -> {
                    try {
                        site.download(f.path(), f.target(), f.sizeBytes(), bar::advance);
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
                } catch (ExecutionException e) {
                    // each task records its own error
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return errors;
    }

    private static String orDash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    private static long sizeOf(Path p) {
        try {
            return p == null ? -1 : Files.size(p);
        } catch (IOException e) {
            return -1;
        }
    }
}
