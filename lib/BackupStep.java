import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Step 1 — backup: byte-for-byte copies of identities.json and photo_index.json in
 * data/backups/<name>.YYYYMMDD-HHMMSS.bak (restored with ./jbang restore, or by hand with cp).
 * A document that does not parse is still copied (a copy never hurts) but the plan says so
 * loudly, so nobody later mistakes that backup for a good one.
 */
public final class BackupStep implements Step<BackupStep.Plan, BackupStep.Result> {

    /** One document that would be copied; {@code problem} is null when it parses as the right kind of document. */
    public record Source(String name, String file, long bytes, String problem) {}

    public record Plan(String dataDir, List<Source> files) implements Step.Plan {
        @Override
        public boolean nothingToDo() {
            return files.isEmpty();
        }

        @Override
        public void print(Console c) {
            if (files.isEmpty()) {
                c.info("No archive yet in " + dataDir + " (no identities.json or photo_index.json): nothing to back up.");
                c.info("The first ingest will start an empty archive there.");
                return;
            }
            for (Source s : files) {
                c.info("  back up " + s.name() + "  (" + ProgressBar.formatBytes(s.bytes()) + ")");
                if (s.problem() != null) {
                    c.warn(s.problem() + " -> it is backed up all the same, but this backup is not a good one;"
                            + " ./jbang restore --list shows which backups are");
                }
            }
        }
    }

    /**
     * {@code label} is null when there was nothing to back up; {@code damaged} names the
     * documents that were copied although they do not parse (that backup restores nothing good).
     */
    public record Result(String label, List<String> files, List<String> damaged, List<String> failures) implements Step.Result {
        public Result {
            damaged = damaged == null ? List.of() : damaged;  // a journal written before this field existed
        }

        @Override
        public void print(Console c) {
            if (label == null) return;
            for (String f : files) c.ok("backed up " + f);
            if (damaged.isEmpty()) {
                c.info("Restore with: ./jbang restore --timestamp " + label);
            } else {
                // Offering this backup for a restore would put the damaged document back.
                c.warn("backup " + label + " holds a damaged " + String.join(" and ", damaged)
                        + "; to go back to a good state: ./jbang restore --latest (it skips damaged backups)");
            }
        }
    }

    @Override
    public String name() {
        return "backup";
    }

    @Override
    public Plan plan(KitContext ctx) throws IOException {
        Path data = ctx.layout().data();
        List<Source> out = new ArrayList<>();
        for (String n : ArchiveFiles.NAMES) {
            Path f = data.resolve(n);
            if (!Files.isRegularFile(f)) continue;
            out.add(new Source(n, f.toString(), Files.size(f), ArchiveFiles.problem(f)));
        }
        return new Plan(data.toString(), out);
    }

    @Override
    public Result apply(Plan plan, KitContext ctx) throws IOException {
        if (plan.nothingToDo()) return new Result(null, List.of(), List.of(), List.of());
        try (DataLock lock = DataLock.acquire(ctx.layout().data(), "backup")) {
            if (lock.staleLockReport() != null) ctx.console().warn(lock.staleLockReport());
            Backups.Backup made = new Backups(ctx.layout().data()).create();
            List<String> files = new ArrayList<>();
            for (Path p : made.files()) files.add(p.toString());
            List<String> damaged = plan.files().stream().filter(s -> s.problem() != null).map(Source::name).toList();
            return new Result(made.label(), files, damaged, List.of());
        }
    }
}
