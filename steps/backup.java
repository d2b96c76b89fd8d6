///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/Backups.java ../lib/BackupStep.java

/*
 * Step 1 — backup: copies data/identities.json and data/photo_index.json into
 * data/backups/<name>.YYYYMMDD-HHMMSS.bak, byte for byte. Always the first step: nothing
 * touches the archive before its backup exists. Two backups in the same second never
 * overwrite each other. A document that does not parse is copied too, with a warning.
 *
 * Options:  --data-dir DIR   the archive folder (default: data)
 *           --dry-run        say what would be copied; copy nothing
 *           --json           one JSON object on stdout
 * Example:  ./jbang backup            (or ./jbang steps/backup.java --data-dir data)
 */
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "backup", mixinStandardHelpOptions = true,
        description = {"Step 1: back up identities.json and photo_index.json to DIR/backups/<name>.YYYYMMDD-HHMMSS.bak",
                "(byte-identical copies; restore with ./jbang restore or by hand with cp).", "",
                "Example: ./jbang backup --data-dir data"})
public class backup implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    public static void main(String... argv) {
        StepMain.exit(new backup(), argv);
    }

    @Override
    public Integer call() throws Exception {
        return StepRunner.runScript(new BackupStep(), KitOptions.context(out, folders, dryRun.dryRun));
    }
}
