///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
// C1's code only: the heavy arithmetic runs in ONNX Runtime (DistanceTerms), and everything
// else runs once per process, done sooner in C1's code than after C2 compiled it (C2 cost
// more CPU than it saved at 17,500 faces; C1 without profiling is also C1's fastest code).
//JAVA_OPTIONS -XX:TieredStopAtLevel=1
// The young generation: 128 MB holds all a 17,500-face run allocates, so it collects nothing (64 MB
// took one 36-88 ms pause). What survives a collection is the archive itself (its vectors and
// documents), alive to the end: it goes to the old generation at once (MaxTenuringThreshold=0)
// rather than being copied between survivor spaces first. At 100,000 faces the pauses add up
// to 269-281 ms against 303-452 ms with -Xmn64m (3 runs each).
//JAVA_OPTIONS -Xmn128m -XX:MaxTenuringThreshold=0
// A heap that starts at 1 GB (memory is taken only as it is used): started at 1/64 of the
// machine's memory, it was soon "nearly full" of the archive at 100,000 faces, and G1 spent
// 0.25-0.5 CPU-s marking it concurrently, for a process that ends a few seconds later. The
// maximum is set with it (4 GB, about 800,000 faces), so that the two never conflict on a
// small machine, whose default maximum would be below 1 GB.
//JAVA_OPTIONS -Xms1g -Xmx4g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/Backups.java
//SOURCES ../lib/NpyPickleReader.java ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/MatchThresholds.java ../lib/Matcher.java ../lib/FaceQuality.java
//SOURCES ../lib/Photos.java ../lib/ThumbnailCache.java ../lib/ReviewPage.java ../lib/ModelCatalog.java ../lib/ModelCheck.java
//SOURCES ../lib/KitOptions.java ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java ../lib/Names.java ../lib/Timestamps.java ../lib/Identities.java ../lib/FaceDistances.java ../lib/NearestIdentities.java ../lib/DistanceTerms.java ../lib/OnnxGraph.java ../lib/OnnxRuntimeLibraries.java ../lib/IdentityEdits.java ../lib/ClusterStep.java ../lib/BackgroundWork.java ../lib/ArchiveRead.java

/*
 * Step 4 — match new faces to the people already identified, for a person to review.
 * Every face of an INBOX, PROPOSED or SKIPPED identity is compared with every CONFIRMED
 * person (distance = the closest of that person's faces); the closest person under the
 * threshold becomes a proposal. Rules: shared/spec/matching-and-merge.md.
 *
 * The default is a dry run: it writes data/proposals.json and the review page
 * data/review/<run>.html (open it in a browser: faces, photos, distances), prints the table,
 * and changes nothing else. A person decides each proposal: `./jbang review` will be the normal
 * way to do that. Nothing is ever confirmed: --execute (scripting and manual use only) applies
 * ALL the proposals at once — it backs up the archive, adds each proposed face to its person's
 * candidates, marks emptied identities as merged into that person, and writes the promotions of
 * SKIPPED identities that keep a strong match, in one atomic write of identities.json.
 *
 * Options:  --threshold T      propose when distance < T, 0 < T <= 2 (default: the embedding
 *                              model's HIGH threshold from models/models.json; 1.05 for w600k_r50)
 *           --limit N          keep only the N closest proposals
 *           --dry-run          propose only (the default)
 *           --execute          apply ALL the proposals to identities.json (after a backup)
 *           --data-dir, --photos-dir, --crops-dir, --models-dir, --pending-dir DIR   the archive's folders
 *           --json             one JSON object on stdout
 * Example:  ./jbang cluster                (dry run, then open the page it names)
 *           ./jbang cluster --threshold 1.15 --limit 20
 */
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = {"Step 4: match the faces of unresolved identities (INBOX, PROPOSED, SKIPPED) to confirmed people.",
                "Writes data/proposals.json and a review page data/review/<run>.html, and changes nothing else.",
                "A person decides each proposal: ./jbang review will be the normal way to do that.",
                "--execute (scripting only) applies ALL the proposals at once: the faces join the people's",
                "candidates (never confirmed), after a backup.", "",
                "Example: ./jbang cluster --threshold 1.05"})
public class cluster_new_faces implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    @Option(names = "--execute", description = "apply ALL the proposals to identities.json, after a backup (scripting; ./jbang review decides one by one)")
    boolean execute;

    @Option(names = "--threshold", paramLabel = "T", description = "propose when distance < T, 0 < T <= 2 (default: the model's calibrated HIGH threshold)")
    Double threshold;

    @Option(names = "--limit", paramLabel = "N", description = "keep only the N closest proposals")
    Integer limit;

    public static void main(String... argv) {
        // ONNX Runtime (the matrix products) loads on the second core while picocli parses.
        if (!StepMain.onlyHelp(argv)) OnnxRuntimeLibraries.warmUpInBackground();
        StepMain.exit(new cluster_new_faces(), argv);
    }

    @Override
    public Integer call() throws Exception {
        if (execute && dryRun.dryRun) throw new StepMain.UsageException("--execute and --dry-run cannot be used together");
        if (threshold != null && !(threshold > 0 && threshold <= 2)) {
            throw new StepMain.UsageException("--threshold must be a distance between 0 and 2 (got " + threshold + ")");
        }
        if (limit != null && limit < 1) throw new StepMain.UsageException("--limit must be 1 or more (got " + limit + ")");
        ClusterStep.Options options = new ClusterStep.Options(threshold == null ? OptionalDouble.empty() : OptionalDouble.of(threshold),
                limit == null ? OptionalInt.empty() : OptionalInt.of(limit));
        KitContext ctx = KitOptions.context(out, folders, !execute);
        return StepRunner.runScript(new ClusterStep(options), ctx);
    }
}
