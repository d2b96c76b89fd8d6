///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java ../lib/DataLock.java ../lib/CrashPoint.java
//SOURCES ../lib/ArchiveFiles.java ../lib/SyncClient.java ../lib/StagedPaths.java ../lib/DownloadStep.java ../lib/ClearStep.java

/*
 * Step 2 — download: fetches every file staged on the site into PENDING/<job_id>/<name>, one
 * folder per upload job (two jobs' IMG_0001.jpg both survive; each job keeps its _metadata.json).
 * A file goes to a temporary name and is renamed once its size matches the listing; a file
 * already there is skipped, so running again finishes an interrupted download. A name the kit
 * refuses (hostile path, control character) is left on the site and its job is never cleared.
 * Step 7 — with --clear-after: then clears from the site's staging only the jobs the job ledger
 * (data/runs/jobs.json) shows downloaded, ingested, uploaded and pushed; says for every other job
 * why not and what to run. --force clears a downloaded job anyway, after a warning naming what
 * is not yet in the archive.
 *
 * Options:  --pending-dir DIR  where to download (default: raw_photos/pending; --dest is the same)
 *           --data-dir DIR     the archive folder, which holds the job ledger runs/jobs.json (default: data)
 *           --clear-after      then clear from the site's staging the jobs safely in the archive (irreversible)
 *           --force            with --clear-after: clear downloaded jobs even when not in the archive yet
 *           --dry-run          show what would be downloaded (and cleared); change nothing anywhere
 *           --json             one JSON object on stdout; messages go to stderr
 * Needs RHODESLI_SITE_URL and RHODESLI_SYNC_TOKEN (.env or environment).
 * Example:  ./jbang download --dry-run        then  ./jbang download --pending-dir raw_photos/pending
 */
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "download", mixinStandardHelpOptions = true,
        description = {"Step 2: download the files staged on the site into PENDING/<job_id>/<name>,",
                "one folder per upload job.",
                "With --clear-after (step 7): then clear from the site's staging only the jobs",
                "that are downloaded, ingested, uploaded and pushed (data/runs/jobs.json),",
                "and say for every other job why not and what to run.", "",
                "Example: ./jbang download --dry-run"})
public class download_staged implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    @Option(names = "--clear-after", description = "then clear from the site's staging the jobs safely in the archive (irreversible)")
    boolean clearAfter;

    @Option(names = "--force", description = "with --clear-after: also clear downloaded jobs that are not yet in the archive, after a warning")
    boolean force;

    public static void main(String... argv) {
        StepMain.exit(new download_staged(), argv);
    }

    @Override
    public Integer call() throws Exception {
        if (force && !clearAfter) throw new StepMain.UsageException("--force only goes with --clear-after");
        KitContext ctx = KitOptions.context(out, folders, dryRun.dryRun);
        if (!clearAfter) return StepRunner.runScript(new DownloadStep(), ctx);

        // One client for both steps; one JSON object holding both outcomes.
        SyncClient site = SyncClient.fromConfig(ctx.config());
        StepRunner.Outcome<?, ?> download = StepRunner.run(new DownloadStep(site), ctx);
        ctx.console().section("Step 7: clear staging");
        StepRunner.Outcome<?, ?> clear = StepRunner.run(
                new ClearStep(new ClearStep.Options(force ? ClearStep.Force.YES : ClearStep.Force.NO), site), ctx);
        ObjectNode json = download.toJson();
        json.set("clear", clear.toJson());
        List<String> failures = new ArrayList<>();
        if (download.failed()) failures.addAll(download.result().failures());
        if (clear.failed()) failures.addAll(clear.result().failures());
        ArrayNode all = json.putArray("failures");
        failures.forEach(all::add);
        ctx.console().emitJson(json);
        if (failures.isEmpty()) return StepMain.OK;
        ctx.console().error(failures.size() + " problem(s):");
        for (String f : failures) ctx.console().info("  " + f);
        return StepMain.FAILED;
    }
}
