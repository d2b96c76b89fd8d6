///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/JobLedger.java ../lib/Names.java ../lib/Timestamps.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/Backups.java

/*
 * Restore a backup of the archive's documents (made by step 1, by a step before it rewrote
 * them, or by hand). Not a pipeline step: a tool for when something went wrong.
 *   --list             show the backups, newest first, with identity and photo counts
 *   --latest           restore the newest GOOD backup (newer ones that do not parse are skipped, and named)
 *   --timestamp T      restore the backup labelled T (YYYYMMDD-HHMMSS, or e.g. "manual")
 *   --data-dir DIR     the archive folder (default: data)
 *   --json             one JSON object on stdout; messages go to stderr
 * Before restoring it checks that every file of the backup parses as the right kind of
 * document, then backs up the current files (so the restore itself can be undone), then
 * restores them byte for byte. Afterwards push the restored data with ./jbang push.
 * Example:  ./jbang restore --list ;  ./jbang restore --timestamp 20260210-140311
 */
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "restore", mixinStandardHelpOptions = true,
        description = {"Lists or restores backups of identities.json and photo_index.json",
                "(DIR/backups/). A restore checks the backup first, backs up the current",
                "files (so it can be undone), then copies the backup back byte for byte.",
                "Give one of --list, --latest, --timestamp.", "",
                "Examples: ./jbang restore --list",
                "          ./jbang restore --timestamp 20260210-140311"})
public class restore_backup implements Callable<Integer> {
    @Option(names = "--list", description = "list the backups, newest first, with their identity and photo counts")
    boolean list;
    @Option(names = "--latest", description = "restore the newest good backup (newer damaged ones are skipped and named)")
    boolean latest;
    @Option(names = "--timestamp", paramLabel = "T", description = "restore the backup labelled T (as shown by --list)")
    String timestamp;
    @Option(names = "--data-dir", paramLabel = "DIR", description = "the archive folder (default: data)")
    Path dataDir;
    @Mixin KitOptions.Output out;

    public static void main(String... argv) {
        StepMain.exit(new restore_backup(), argv);
    }

    /** One row of --list. {@code identities}/{@code photos} are null when the backup lacks that file or does not parse. */
    public record Listed(String label, Integer identities, Integer photos, boolean valid, String problem, List<String> files) {}

    public record Listing(List<Listed> backups) {}

    /** What a restore did; {@code skipped} lists newer backups --latest passed over, with why. */
    public record Restored(String restored, String safetyBackup, Integer identities, Integer photos, List<Backups.Skipped> skipped) {}

    @Override
    public Integer call() throws Exception {
        int chosen = (list ? 1 : 0) + (latest ? 1 : 0) + (timestamp != null ? 1 : 0);
        if (chosen != 1) {
            throw new StepMain.UsageException(chosen == 0 ? "give one of --list, --latest or --timestamp T"
                    : "--list, --latest and --timestamp cannot be used together; give exactly one");
        }
        // restore has only the one folder option; the others of KitOptions.Folders mean nothing to it
        KitOptions.Folders folders = new KitOptions.Folders();
        folders.data = dataDir;
        KitContext ctx = KitOptions.context(out, folders, false);
        Object summary = list ? list(ctx) : latest ? restoreLatest(ctx) : restore(ctx, timestamp);
        ctx.console().emitJson(JsonFiles.MAPPER.valueToTree(summary));
        return StepMain.OK;
    }

    static Listing list(KitContext ctx) throws Exception {
        Console console = ctx.console();
        Backups backups = new Backups(ctx.layout().data());
        List<Listed> rows = new ArrayList<>();
        List<Backups.Backup> all = backups.list();
        if (all.isEmpty()) {
            console.info("No backups in " + backups.folder() + " yet. Make one with ./jbang backup");
            return new Listing(rows);
        }
        console.info(String.format("%-18s %12s %8s  %s", "BACKUP", "IDENTITIES", "PHOTOS", "FILES"));
        for (Backups.Backup b : all) {
            List<String> names = new ArrayList<>();
            for (Path p : b.files()) names.add(Names.printable(p.getFileName().toString()));
            Listed row;
            try {
                int[] c = Backups.verify(b);
                row = new Listed(b.label(), c[0] < 0 ? null : c[0], c[1] < 0 ? null : c[1], true, null, names);
            } catch (KitException e) {
                row = new Listed(b.label(), null, null, false, e.getMessage(), names);
            }
            rows.add(row);
            console.info(String.format("%-18s %12s %8s  %s%s", Names.printable(b.label()),
                    row.valid() ? (row.identities() == null ? "-" : row.identities().toString()) : "?",
                    row.valid() ? (row.photos() == null ? "-" : row.photos().toString()) : "?",
                    String.join(", ", names), row.valid() ? "" : "   (UNREADABLE: " + row.problem() + ")"));
        }
        console.info("Restore one with: ./jbang restore --timestamp <BACKUP>   (or --latest: the newest good one)");
        return new Listing(rows);
    }

    /** Restores the newest backup that is good; newer ones that are not are named with their problem. */
    public static Restored restoreLatest(KitContext ctx) throws Exception {
        try (DataLock lock = DataLock.acquire(ctx.layout().data(), "restore")) {
            if (lock.staleLockReport() != null) ctx.console().warn(lock.staleLockReport());
            Backups backups = new Backups(ctx.layout().data());
            Backups.Latest latest = backups.latestValid();
            for (Backups.Skipped s : latest.skipped()) {
                ctx.console().warn("skipping backup " + Names.printable(s.label()) + ", which is not a good one: " + s.problem());
            }
            if (latest.backup() == null) {
                if (latest.skipped().isEmpty()) throw new KitException("there are no backups in " + backups.folder(), "nothing was changed");
                throw new KitException("none of the " + latest.skipped().size() + " backups in " + backups.folder() + " is a good one (each is named above)",
                        "nothing was changed; a backup can still be copied back by hand (see README, Restoring from a backup)");
            }
            if (!latest.skipped().isEmpty()) {
                ctx.console().info("Restoring the newest good backup instead: " + latest.backup().label());
            }
            return restoreChecked(ctx, backups, latest.backup(), latest.counts(), latest.skipped());
        }
    }

    /** Restores the backup labelled {@code label}; refuses one that does not parse. */
    public static Restored restore(KitContext ctx, String label) throws Exception {
        try (DataLock lock = DataLock.acquire(ctx.layout().data(), "restore")) {
            if (lock.staleLockReport() != null) ctx.console().warn(lock.staleLockReport());
            Backups backups = new Backups(ctx.layout().data());
            if (backups.list().isEmpty()) throw new KitException("there are no backups in " + backups.folder(), "nothing was changed");
            Backups.Backup chosen = backups.find(label);
            if (chosen == null) {
                throw new KitException("no backup labelled '" + Names.printable(label) + "' in " + backups.folder(),
                        "see the labels with ./jbang restore --list");
            }
            int[] counts;
            try {
                counts = Backups.verify(chosen);
            } catch (KitException e) {
                throw new KitException("refusing to restore backup " + chosen.label() + ": " + e.getMessage(),
                        "nothing was changed; pick another backup from ./jbang restore --list (or ./jbang restore --latest: the newest good one)", e);
            }
            return restoreChecked(ctx, backups, chosen, counts, List.of());
        }
    }

    private static Restored restoreChecked(KitContext ctx, Backups backups, Backups.Backup chosen, int[] counts, List<Backups.Skipped> skipped) throws Exception {
        Console console = ctx.console();
        if (chosen.identities() == null || chosen.photoIndex() == null) {
            console.warn("backup " + chosen.label() + " holds only "
                    + chosen.files().get(0).getFileName() + "; the other document stays as it is");
        }
        Backups.Backup safety = backups.create();
        if (safety != null) console.ok("current files backed up first as " + safety.label() + " (undo with ./jbang restore --timestamp " + safety.label() + ")");
        backups.restoreFiles(chosen);
        for (Path p : chosen.files()) console.ok("restored " + p.getFileName());
        console.info("Restored backup " + chosen.label()
                + (counts[0] >= 0 ? ": " + counts[0] + " identities" : "")
                + (counts[1] >= 0 ? ", " + counts[1] + " photos" : "") + ".");
        console.info("To send it to the site too, run ./jbang push");
        return new Restored(chosen.label(), safety == null ? null : safety.label(),
                counts[0] >= 0 ? counts[0] : null, counts[1] >= 0 ? counts[1] : null, skipped);
    }
}
