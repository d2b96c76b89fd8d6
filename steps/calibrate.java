///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java ../lib/DataLock.java ../lib/ArchiveFiles.java
//SOURCES ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/NpyPickleReader.java ../lib/ModelCatalog.java
//SOURCES ../lib/MatchThresholds.java ../lib/Calibration.java ../lib/CalibrateStep.java ../lib/FaceDistances.java ../lib/Identities.java

/*
 * calibrate: measures the active embedding model on the archive's own CONFIRMED people
 * (identities not merged away; every pair of faces of one person = same, of two people =
 * different) and proposes its thresholds: VERY HIGH where recall reaches 10% at 100%
 * precision, HIGH = the largest distance with 100% precision, MODERATE / MEDIUM / LOW where
 * precision falls to 94% / 87% / 69%, GROUPING 0.05 stricter than HIGH. Prints the table;
 * --write puts them into models/models.json for that model only (after a backup in
 * models/backups/); matching and the review page read them from there. Fewer than 5 people
 * with 2 faces or more: it says so and changes nothing.
 *
 * Options:  --write           write the proposal into models.json (default: print only)
 *           --model TAG       calibrate this embedding model (default: the active recognizer's),
 *                             e.g. w600k_r50 for an archive still holding InsightFace vectors
 *           --dry-run         print only (the default without --write)
 *           --json            one JSON object on stdout, with the whole curve
 *           --data-dir DIR, --models-dir DIR
 * Example:  ./jbang calibrate            then   ./jbang calibrate --write
 */
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = {"Measure the embedding model on the archive's confirmed people and propose its match thresholds;",
                "--write puts them into models/models.json (for that model only, after a backup).", "",
                "Example: ./jbang calibrate --write"})
public class calibrate implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    @Option(names = "--write", description = "write the proposed thresholds into models.json (default: print only)")
    boolean write;

    @Option(names = "--model", paramLabel = "TAG", description = "the embedding model to calibrate (default: the active recognizer's)")
    String model;

    public static void main(String... argv) {
        StepMain.exit(new calibrate(), argv);
    }

    @Override
    public Integer call() throws Exception {
        if (write && dryRun.dryRun) throw new StepMain.UsageException("--write and --dry-run do not go together");
        return StepRunner.runScript(new CalibrateStep(new CalibrateStep.Options(model)), KitOptions.context(out, folders, !write));
    }
}
