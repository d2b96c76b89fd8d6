import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * What one run of the one-command pipeline has finished: {@code data/runs/<run_id>/journal.json},
 * with each finished step's outcome (its plan and typed result, as {@link StepRunner.Outcome}
 * writes them). A run killed at any moment is continued by the next run in the same mode: the
 * steps it finished are not repeated and their results are read back as the typed records.
 * How far each upload job got lives in the {@link JobLedger}, across runs; this is per run.
 * Written atomically after every change.
 */
public final class RunJournal {
    private final Path runDir;
    private final ObjectNode journal;
    private final boolean resumed;

    private RunJournal(Path runDir, ObjectNode journal, boolean resumed) {
        this.runDir = runDir;
        this.journal = journal;
        this.resumed = resumed;
    }

    /**
     * The unfinished run to resume, if the last run did not finish; else a new run. A run in
     * another mode is not resumed (a dry run never continues a real one, nor the reverse).
     */
    public static RunJournal startOrResume(Path runsDir, String mode) throws IOException {
        Files.createDirectories(runsDir);
        Path last = latestRun(runsDir);
        if (last != null) {
            ObjectNode j = JsonFiles.readObject(last.resolve("journal.json"));
            if (!j.path("finished").asBoolean() && mode.equals(j.path("mode").asText())) return new RunJournal(last, j, true);
        }
        String id = Timestamps.label();
        Path dir = runsDir.resolve(id);
        for (int i = 2; Files.exists(dir); i++) dir = runsDir.resolve(id + "-" + i);
        Files.createDirectories(dir);
        ObjectNode j = JsonFiles.object();
        j.put("run_id", dir.getFileName().toString());
        j.put("mode", mode);
        j.put("started_at", Timestamps.ledger());
        j.putObject("steps");
        j.put("finished", false);
        RunJournal r = new RunJournal(dir, j, false);
        r.save();
        return r;
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
        return journal.path("steps").has(step);
    }

    /** Records a finished step's outcome. */
    public void record(StepRunner.Outcome<?, ?> outcome) throws IOException {
        ((ObjectNode) journal.get("steps")).set(outcome.step(), outcome.toJson().put("finished_at", Timestamps.ledger()));
        save();
    }

    /** Records a point of the run that is not a step (the review), with what was decided. */
    public void recordMark(String name, JsonNode value) throws IOException {
        ObjectNode o = JsonFiles.object();
        o.put("finished_at", Timestamps.ledger());
        o.set("value", value);
        ((ObjectNode) journal.get("steps")).set(name, o);
        save();
    }

    /** A finished step's typed result, read back (null when the step has not finished or was a dry run). */
    public <R> R result(String step, Class<R> type) {
        JsonNode r = journal.path("steps").path(step).get("result");
        if (r == null || r.isNull()) return null;
        try {
            return JsonFiles.MAPPER.treeToValue(r, type);
        } catch (IOException e) {
            throw new KitException("the run journal " + runDir.resolve("journal.json") + " holds a result of step " + step
                    + " this version cannot read (" + e.getMessage() + ")", "finish or abandon that run with the kit version that started it", e);
        }
    }

    /** What {@link #recordMark} recorded, read back as {@code type} (null when this run has not reached it). */
    public <T> T mark(String name, Class<T> type) {
        JsonNode v = journal.path("steps").path(name).get("value");
        if (v == null || v.isNull()) return null;
        try {
            return JsonFiles.MAPPER.treeToValue(v, type);
        } catch (IOException e) {
            throw new KitException("the run journal " + runDir.resolve("journal.json") + " holds a record of " + name
                    + " this version cannot read (" + e.getMessage() + ")", "finish or abandon that run with the kit version that started it", e);
        }
    }

    /** A fact the run keeps for its summary (e.g. the archive's counts before it started). */
    public JsonNode fact(String key) {
        return journal.path("facts").get(key);
    }

    public void setFact(String key, JsonNode value) throws IOException {
        JsonNode facts = journal.get("facts");
        ObjectNode f = facts instanceof ObjectNode o ? o : journal.putObject("facts");
        f.set(key, value);
        save();
    }

    /** Marks the run finished (completed, or stopped cleanly by the user's "no"). */
    public void finish(String outcome) throws IOException {
        journal.put("finished", true);
        journal.put("outcome", outcome);
        journal.put("finished_at", Timestamps.ledger());
        save();
    }

    private void save() throws IOException {
        JsonFiles.write(runDir.resolve("journal.json"), journal);
    }
}
