///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
// Uploading is many short requests through the SDK, not long hot loops: the quick compiler alone
// costs a third less CPU than also running the optimising one (issue 13), and compiling the SDK's
// request path after a fifth of the usual calls spares interpreting it through the first hundreds
// of requests (a quarter less CPU in the transfer threads on a first upload).
//JAVA_OPTIONS -XX:TieredStopAtLevel=1 -XX:CompileThresholdScaling=0.2
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/CrashPoint.java
//SOURCES ../lib/StoreSettings.java ../lib/StoreErrors.java ../lib/Checksums.java ../lib/Md5Cache.java
//SOURCES ../lib/UploadPlan.java ../lib/ObjectTransfer.java ../lib/SignedPut.java ../lib/WideWriteConnection.java ../lib/ObjectStore.java ../lib/UploadStep.java

/*
 * Step 5 — upload: sends the archive's photos and face crops to Cloudflare R2 (or any
 * S3-compatible store), so the site can show them. Keys: raw_photos/<basename> for every photo
 * registered in data/photo_index.json, crops/<face_id>.jpg for every registered face. Files not
 * registered are never sent. Only what is new or changed is sent (same size and MD5 = already
 * there, checked from the bucket listing, nothing downloaded); every upload is verified by MD5.
 * Then each upload job whose every photo and crop is verified in the bucket is marked uploaded
 * in data/runs/jobs.json (step 7 clears only such jobs).
 *
 * Without --execute this is a dry run: it shows the plan (new / changed / unchanged, counts and
 * bytes) and changes nothing. Without the R2 settings a dry run still plans from the archive and
 * says that the bucket was not consulted.
 *
 * Options:  --execute                   carry out the plan
 *           --dry-run                   only show the plan (the default)
 *           --photos-only | --crops-only
 *           --parallel N                transfers at once, 1..64 (default 4)
 *           --data-dir, --photos-dir, --crops-dir, --pending-dir, --models-dir DIR   the archive's folders
 *           --json                      one JSON object on stdout
 * Needs:    R2_ACCOUNT_ID (or R2_ENDPOINT_URL), R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY, R2_BUCKET_NAME
 * Example:  ./jbang upload            (the plan)   then   ./jbang upload --execute
 */
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "upload", mixinStandardHelpOptions = true,
        description = {"Step 5: upload the registered photos (raw_photos/<name>) and face crops (crops/<face_id>.jpg) to R2.",
                "Only new or changed files are sent; each upload is checked by MD5. Without --execute it only shows",
                "the plan: what is new, changed or already there. Jobs whose every object is verified in the bucket",
                "are marked uploaded in data/runs/jobs.json.", "",
                "Needs R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY, R2_BUCKET_NAME and R2_ACCOUNT_ID (or R2_ENDPOINT_URL for",
                "another S3-compatible store, e.g. ./jbang local-r2); a dry run works without them.", "",
                "Example: ./jbang upload            then   ./jbang upload --execute"})
public class upload_to_r2 implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    @Option(names = "--execute", description = "carry out the plan: upload the new and changed files")
    boolean execute;

    @ArgGroup(exclusive = true)
    Only only;

    static class Only {
        @Option(names = "--photos-only", required = true, description = "only the photos")
        boolean photos;
        @Option(names = "--crops-only", required = true, description = "only the face crops")
        boolean crops;
    }

    @Option(names = "--parallel", paramLabel = "N", defaultValue = "" + ObjectStore.DEFAULT_PARALLEL,
            description = "transfers at once, 1..64 (default: ${DEFAULT-VALUE})")
    int parallel;

    public static void main(String... argv) {
        StepMain.exit(new upload_to_r2(), argv);
    }

    @Override
    public Integer call() throws Exception {
        if (execute && dryRun.dryRun) throw new StepMain.UsageException("--execute and --dry-run cannot be used together");
        if (parallel < 1 || parallel > 64) throw new StepMain.UsageException("--parallel must be between 1 and 64 (got " + parallel + ")");
        UploadStep.Parts parts = only == null ? UploadStep.Parts.ALL : only.photos ? UploadStep.Parts.PHOTOS : UploadStep.Parts.CROPS;
        return StepRunner.runScript(new UploadStep(new UploadStep.Options(parts, parallel)), KitOptions.context(out, folders, !execute));
    }
}
