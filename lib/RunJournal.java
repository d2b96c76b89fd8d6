import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.stream.Stream;

/**
 * What the one-command pipeline has finished, kept under {@code data/runs/} so that a run
 * killed at any moment can be started again and carry on where it stopped.
 *
 * <ul>
 *   <li>{@code data/runs/<run_id>/journal.json}: one run — its mode and, per step, "done" with
 *       the step's summary. A run whose journal is not marked finished is resumed by the next run.</li>
 *   <li>{@code data/runs/jobs.json}: every upload job the kit has seen, across runs, and how far
 *       it got: downloaded, ingested, uploaded (verified in R2), pushed (verified on the site),
 *       cleared. Staging is cleared only for jobs that reached "pushed", in this run or an earlier one.</li>
 * </ul>
 * Both files are written atomically after every change, so a crash never leaves them half-written.
 */
public final class RunJournal {
    public static final String JOBS = "jobs.json";
    /** The milestones of a job, in order. */
    public static final List<String> MILESTONES = List.of("downloaded", "ingested", "uploaded", "pushed", "cleared");

    private static final DateTimeFormatter RUN_ID = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private final Path runsDir;
    private final Path runDir;
    private final ObjectNode journal;
    private final ObjectNode jobs;
    private final boolean resumed;

    private RunJournal(Path runsDir, Path runDir, ObjectNode journal, ObjectNode jobs, boolean resumed) {
        this.runsDir = runsDir;
        this.runDir = runDir;
        this.journal = journal;
        this.jobs = jobs;
        this.resumed = resumed;
    }

    /**
     * The unfinished run to resume, if the last run did not finish; else a new run. A run in
     * another mode is not resumed (a dry run never continues a real one, nor the reverse).
     */
    public static RunJournal startOrResume(Path dataDir, String mode) throws IOException {
        Path runsDir = dataDir.resolve("runs");
        Files.createDirectories(runsDir);
        ObjectNode jobs = Files.exists(runsDir.resolve(JOBS)) ? JsonFiles.readObject(runsDir.resolve(JOBS)) : newJobs();
        if (!jobs.has("jobs") || !jobs.get("jobs").isObject()) jobs.putObject("jobs");
        Path last = latestRun(runsDir);
        if (last != null) {
            ObjectNode j = JsonFiles.readObject(last.resolve("journal.json"));
            if (!j.path("finished").asBoolean() && mode.equals(j.path("mode").asText())) {
                return new RunJournal(runsDir, last, j, jobs, true);
            }
        }
        String id = OffsetDateTime.now(ZoneOffset.UTC).format(RUN_ID);
        Path dir = runsDir.resolve(id);
        for (int i = 2; Files.exists(dir); i++) dir = runsDir.resolve(id + "-" + i);
        Files.createDirectories(dir);
        ObjectNode j = JsonFiles.object();
        j.put("run_id", dir.getFileName().toString());
        j.put("mode", mode);
        j.put("started_at", now());
        j.putObject("steps");
        j.put("finished", false);
        RunJournal r = new RunJournal(runsDir, dir, j, jobs, false);
        r.saveJournal();
        return r;
    }

    private static ObjectNode newJobs() {
        ObjectNode o = JsonFiles.object();
        o.put("schema_version", 1);
        o.putObject("jobs");
        return o;
    }

    private static Path latestRun(Path runsDir) throws IOException {
        try (Stream<Path> s = Files.list(runsDir)) {
            return s.filter(p -> Files.isRegularFile(p.resolve("journal.json")))
                    .max((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString())).orElse(null);
        }
    }

    public String runId() {
        return journal.get("run_id").asText();
    }

    public Path runDir() {
        return runDir;
    }

    /** True when this run continues one that was interrupted. */
    public boolean resumed() {
        return resumed;
    }

    public boolean stepDone(String step) {
        return "done".equals(journal.path("steps").path(step).path("status").asText());
    }

    /** The summary a finished step recorded (null if it has not finished). */
    public JsonNode stepSummary(String step) {
        JsonNode s = journal.path("steps").path(step);
        return s.isMissingNode() ? null : s.get("summary");
    }

    public void markStepDone(String step, JsonNode summary) throws IOException {
        ObjectNode s = ((ObjectNode) journal.get("steps")).putObject(step);
        s.put("status", "done");
        s.put("finished_at", now());
        if (summary != null) s.set("summary", summary);
        saveJournal();
    }

    /** A fact the run keeps for its summary (e.g. the archive's counts before it started). */
    public JsonNode fact(String key) {
        return journal.path("facts").get(key);
    }

    public void setFact(String key, JsonNode value) throws IOException {
        JsonNode facts = journal.get("facts");
        ObjectNode f = facts instanceof ObjectNode o ? o : journal.putObject("facts");
        f.set(key, value);
        saveJournal();
    }

    /** Marks the run finished (completed, or stopped cleanly by the user's "no"). */
    public void finish(String outcome) throws IOException {
        journal.put("finished", true);
        journal.put("outcome", outcome);
        journal.put("finished_at", now());
        saveJournal();
    }

    // ---- jobs ------------------------------------------------------------------------------

    /** Records that {@code jobIds} reached {@code milestone} now (first time only). */
    public void markJobs(Collection<String> jobIds, String milestone) throws IOException {
        if (!MILESTONES.contains(milestone)) throw new IllegalArgumentException(milestone);
        boolean changed = false;
        for (String id : jobIds) {
            ObjectNode job = job(id);
            if (!job.has(milestone)) {
                job.put(milestone, now());
                job.put("last_run", runId());
                changed = true;
            }
        }
        if (changed) saveJobs();
    }

    /** Records a job's fact (e.g. its photo ids) without a milestone. */
    public void setJobField(String jobId, String field, JsonNode value) throws IOException {
        job(jobId).set(field, value);
        saveJobs();
    }

    public JsonNode jobField(String jobId, String field) {
        return jobs.path("jobs").path(jobId).get(field);
    }

    public boolean jobReached(String jobId, String milestone) {
        return jobs.path("jobs").path(jobId).has(milestone);
    }

    /** Jobs that reached {@code milestone} but not {@code notYet}. */
    public List<String> jobsAt(String milestone, String notYet) {
        List<String> out = new ArrayList<>();
        jobs.get("jobs").fields().forEachRemaining(e -> {
            if (e.getValue().has(milestone) && (notYet == null || !e.getValue().has(notYet))) out.add(e.getKey());
        });
        return out;
    }

    private ObjectNode job(String id) {
        ObjectNode all = (ObjectNode) jobs.get("jobs");
        JsonNode j = all.get(id);
        if (j instanceof ObjectNode o) return o;
        ObjectNode o = all.putObject(id);
        o.put("job_id", id);
        return o;
    }

    private void saveJournal() throws IOException {
        JsonFiles.write(runDir.resolve("journal.json"), journal);
    }

    private void saveJobs() throws IOException {
        JsonFiles.write(runsDir.resolve(JOBS), jobs);
    }

    static String now() {
        return OffsetDateTime.now().withNano(0).toString();
    }

    /** For the summary: the jobs with their milestones. */
    public ArrayNode jobsSummary(Collection<String> ids) {
        ArrayNode out = JsonFiles.MAPPER.createArrayNode();
        for (String id : ids) out.add(jobs.path("jobs").path(id).deepCopy());
        return out;
    }
}
