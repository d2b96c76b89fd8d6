///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java ../lib/DataLock.java ../lib/CrashPoint.java
//SOURCES ../lib/ArchiveFiles.java ../lib/SyncClient.java ../lib/StagedPaths.java ../lib/ClearStep.java

/*
 * Step 7 — clear staging, alone (the same step as `./jbang download --clear-after`, without
 * downloading first): clears from the site's staging only the upload jobs the job ledger
 * (data/runs/jobs.json) shows downloaded, ingested, uploaded and pushed, then marks exactly those
 * processed. Says for every other job why not and what to run. A clear the site carried out but
 * the kit never saw finish (killed) is settled: marked processed and recorded.
 *
 * Options:  --data-dir DIR     the archive folder, which holds the job ledger runs/jobs.json (default: data)
 *           --force            also clear downloaded jobs not yet in the archive, after a warning naming what is not
 *           --dry-run          show which jobs would be cleared and why the others are not; change nothing
 *           --json             one JSON object on stdout; messages go to stderr
 * Needs RHODESLI_SITE_URL and RHODESLI_SYNC_TOKEN (.env or environment).
 * Example:  ./jbang steps/clear_staging.java --dry-run
 */
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "clear-staging", mixinStandardHelpOptions = true,
        description = {"Step 7: clear from the site's staging only the upload jobs that are downloaded,",
                "ingested, uploaded and pushed (data/runs/jobs.json), and mark them processed;",
                "say for every other job why not and what to run.", "",
                "Example: ./jbang steps/clear_staging.java --dry-run"})
public class clear_staging implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    @Option(names = "--force", description = "also clear downloaded jobs that are not yet in the archive, after a warning")
    boolean force;

    public static void main(String... argv) {
        StepMain.exit(new clear_staging(), argv);
    }

    @Override
    public Integer call() throws Exception {
        ClearStep step = new ClearStep(new ClearStep.Options(force ? ClearStep.Force.YES : ClearStep.Force.NO));
        return StepRunner.runScript(step, KitOptions.context(out, folders, dryRun.dryRun));
    }
}
