///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/Args.java ../lib/StepMain.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/Backups.java

/*
 * Restore a backup of the archive's documents (made by step 1 or by hand).
 *   --list             show the backups, newest first, with identity and photo counts
 *   --latest           restore the newest backup
 *   --timestamp T      restore the backup labelled T (YYYYMMDD-HHMMSS, or e.g. "manual")
 *   --data-dir DIR     the archive folder (default: data)
 *   --json             print a JSON summary on stdout
 * Before restoring it checks that every file of the backup parses as the right kind of
 * document, then backs up the current files (so the restore itself can be undone), then
 * restores them byte for byte. Afterwards push the restored data with ./jbang push.
 * Example:  ./jbang restore --list ;  ./jbang restore --timestamp 20260210-140311
 */
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;

public class restore_backup {
    static final String USAGE = "./jbang steps/restore_backup.java [--data-dir DIR] (--list | --latest | --timestamp T) [--json]";
    static final String ABOUT = """
            Lists or restores backups of identities.json and photo_index.json from DIR/backups/.
            A restore checks the backup first, backs up the current files (so it can be undone),
            then copies the backup back byte for byte.

            Examples: ./jbang restore --list
                      ./jbang restore --timestamp 20260210-140311""";

    public static void main(String[] argv) {
        StepMain.exit(() -> {
            Args args = new Args(USAGE, ABOUT)
                    .option("--data-dir", "DIR", "the archive folder (default: data)")
                    .flag("--list", "list the backups, newest first, with their identity and photo counts")
                    .flag("--latest", "restore the newest backup")
                    .option("--timestamp", "T", "restore the backup labelled T (as shown by --list)")
                    .flag("--json", "print one JSON summary on stdout; messages go to stderr")
                    .parse(argv);
            args.exactlyOneOf("--list", "--latest", "--timestamp");
            Console console = Console.standard(args.has("--json"));
            Path dataDir = KitConfig.load().dataDir(args.get("--data-dir"));
            ObjectNode summary = args.has("--list") ? list(dataDir, console)
                    : restore(dataDir, args.has("--latest") ? null : args.get("--timestamp"), console);
            console.emitJson(summary);
            return StepMain.OK;
        });
    }

    static ObjectNode list(Path dataDir, Console console) throws Exception {
        Backups backups = new Backups(dataDir);
        List<Backups.Backup> all = backups.list();
        ObjectNode summary = JsonFiles.object();
        ArrayNode rows = summary.putArray("backups");
        if (all.isEmpty()) {
            console.info("No backups in " + backups.folder() + " yet. Make one with ./jbang backup");
            return summary;
        }
        console.info(String.format("%-18s %12s %8s  %s", "BACKUP", "IDENTITIES", "PHOTOS", "FILES"));
        for (Backups.Backup b : all) {
            ObjectNode row = rows.addObject();
            row.put("label", b.label());
            String ids, photos;
            try {
                int[] c = Backups.verify(b);
                ids = c[0] < 0 ? "-" : Integer.toString(c[0]);
                photos = c[1] < 0 ? "-" : Integer.toString(c[1]);
                if (c[0] >= 0) row.put("identities", c[0]);
                if (c[1] >= 0) row.put("photos", c[1]);
                row.put("valid", true);
            } catch (KitException e) {
                ids = photos = "?";
                row.put("valid", false);
                row.put("problem", e.getMessage());
            }
            StringBuilder names = new StringBuilder();
            for (Path p : b.files()) names.append(names.length() > 0 ? ", " : "").append(p.getFileName());
            console.info(String.format("%-18s %12s %8s  %s%s", b.label(), ids, photos, names,
                    row.get("valid").asBoolean() ? "" : "   (UNREADABLE: " + row.get("problem").asText() + ")"));
        }
        console.info("Restore one with: ./jbang restore --timestamp <BACKUP>   (or --latest)");
        return summary;
    }

    /** Restores the backup labelled {@code label} (the newest when null). */
    public static ObjectNode restore(Path dataDir, String label, Console console) throws Exception {
        try (DataLock lock = DataLock.acquire(dataDir, "restore_backup")) {
            if (lock.staleLockReport() != null) console.warn(lock.staleLockReport());
            Backups backups = new Backups(dataDir);
            List<Backups.Backup> all = backups.list();
            if (all.isEmpty()) {
                throw new KitException("there are no backups in " + backups.folder(), "nothing was changed");
            }
            Backups.Backup chosen = label == null ? all.get(0) : backups.find(label);
            if (chosen == null) {
                throw new KitException("no backup labelled '" + label + "' in " + backups.folder(),
                        "see the labels with ./jbang restore --list");
            }
            int[] counts;
            try {
                counts = Backups.verify(chosen);
            } catch (KitException e) {
                throw new KitException("refusing to restore backup " + chosen.label() + ": " + e.getMessage(),
                        "nothing was changed; pick another backup from ./jbang restore --list", e);
            }
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
            ObjectNode summary = JsonFiles.object();
            summary.put("restored", chosen.label());
            summary.put("safety_backup", safety == null ? null : safety.label());
            if (counts[0] >= 0) summary.put("identities", counts[0]);
            if (counts[1] >= 0) summary.put("photos", counts[1]);
            return summary;
        }
    }
}
