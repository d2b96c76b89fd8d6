///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/Args.java ../lib/StepMain.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/Backups.java

/*
 * Step 1 — backup: copies data/identities.json and data/photo_index.json into
 * data/backups/<name>.YYYYMMDD-HHMMSS.bak, byte for byte. Always the first step: nothing
 * touches the archive before its backup exists. Two backups in the same second never
 * overwrite each other (the second waits for the next second).
 *
 * Options:  --data-dir DIR   the archive folder (default: data)
 *           --json           print a JSON summary on stdout
 * Example:  ./jbang backup            (or ./jbang steps/backup.java --data-dir data)
 */
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;

public class backup {
    static final String USAGE = "./jbang steps/backup.java [--data-dir DIR] [--json]";
    static final String ABOUT = """
            Step 1: back up identities.json and photo_index.json to DIR/backups/<name>.YYYYMMDD-HHMMSS.bak
            (byte-identical copies; restore with ./jbang restore or by hand with cp).

            Example: ./jbang backup --data-dir data""";

    public static void main(String[] argv) {
        StepMain.exit(() -> {
            Args args = new Args(USAGE, ABOUT)
                    .option("--data-dir", "DIR", "the archive folder (default: data)")
                    .flag("--json", "print one JSON summary on stdout; messages go to stderr")
                    .parse(argv);
            Console console = Console.standard(args.has("--json"));
            Path dataDir = KitConfig.load().dataDir(args.get("--data-dir"));
            ObjectNode summary = run(dataDir, console);
            console.emitJson(summary);
            return StepMain.OK;
        });
    }

    /** Makes one backup of the archive in {@code dataDir}; the pipeline calls this directly. */
    public static ObjectNode run(Path dataDir, Console console) throws Exception {
        ObjectNode summary = JsonFiles.object();
        summary.put("step", "backup");
        summary.put("data_dir", dataDir.toString());
        try (DataLock lock = DataLock.acquire(dataDir, "backup")) {
            if (lock.staleLockReport() != null) console.warn(lock.staleLockReport());
            Backups backups = new Backups(dataDir);
            Backups.Backup made = backups.create();
            if (made == null) {
                console.info("No archive yet in " + dataDir + " (no identities.json or photo_index.json): nothing to back up.");
                console.info("The first ingest will start an empty archive there.");
                summary.put("backup", (String) null);
                summary.putArray("files");
                return summary;
            }
            var files = summary.putArray("files");
            for (Path p : made.files()) {
                console.ok("backed up " + dataDir.relativize(p.getParent()).resolve(p.getFileName()) + "  ("
                        + ProgressBar.formatBytes(java.nio.file.Files.size(p)) + ")");
                files.add(p.toString());
            }
            summary.put("backup", made.label());
            console.info("Restore with: ./jbang restore --timestamp " + made.label());
            return summary;
        }
    }
}
