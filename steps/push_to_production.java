///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Identities.java ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/Backups.java
//SOURCES ../lib/SyncClient.java ../lib/ArchiveMerge.java ../lib/ArchiveIntegrity.java ../lib/PushStep.java ../lib/BackgroundWork.java

/*
 * Step 6 — push: sends data/identities.json and data/photo_index.json to the site, merged
 * first with production's current copies so that nothing an admin did on the site is lost
 * ("production wins" where an admin acted; shared/spec/matching-and-merge.md).
 *   1. checks the local data's integrity (refuses to push a broken archive, naming every problem);
 *   2. fetches production's documents (refuses to push if that fails: a push without the
 *      merge is the one way to lose admins' work) and shows the merge report;
 *   3. backs up the local files and writes the merged result locally;
 *   4. fetches production again right before the push; when an admin changed something
 *      meanwhile it merges again with that copy (up to 3 times, then refuses);
 *   5. pushes, reads production back, checks it holds exactly what was sent, and records the
 *      upload jobs whose photos are all on the site as pushed (data/runs/jobs.json).
 * Options:  --data-dir DIR  the archive folder (default: data; the other folder options are accepted, unused)
 *           --dry-run       fetch, merge and show the report; change nothing anywhere
 *           --json          one JSON object on stdout; messages go to stderr
 * Needs RHODESLI_SITE_URL and RHODESLI_SYNC_TOKEN (.env or environment).
 * Example:  ./jbang push --dry-run ;  ./jbang push
 */
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "push", mixinStandardHelpOptions = true,
        description = {"Step 6: merge the local identities.json and photo_index.json with",
                "production's current copies (production wins where an admin acted on the",
                "site) and write the result locally; fetch production again right before",
                "the push (merging again if an admin changed something meanwhile); push;",
                "check the site holds exactly what was sent.",
                "Needs RHODESLI_SITE_URL and RHODESLI_SYNC_TOKEN.", "",
                "Example: ./jbang push --dry-run   (the merge report; changes nothing)"})
public class push_to_production implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    public static void main(String... argv) {
        StepMain.exit(new push_to_production(), argv);
    }

    @Override
    public Integer call() throws Exception {
        return StepRunner.runScript(new PushStep(), KitOptions.context(out, folders, dryRun.dryRun));
    }
}
