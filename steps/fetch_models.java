///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java ../lib/Names.java ../lib/Timestamps.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/ModelCatalog.java ../lib/NpmPackage.java ../lib/InsightFaceFiles.java ../lib/FetchModelsStep.java
//SOURCES ../lib/FaceModels.java ../lib/OnnxRuntimeLibraries.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java ../lib/FaceQuality.java ../lib/Photos.java ../lib/OnnxGraph.java ../lib/PReluAsConvolutions.java

/*
 * fetch_models — installs the face models into models/ and writes models/models.json (the files,
 * their hashes, how each model wants its input, which are active, the matching thresholds).
 *
 * Default: the models of the npm package faceplugin-face-recognition-js@0.0.1, fetched with
 * `npm pack` (npm's own configuration decides where from) only when a file is missing or not
 * its pinned bytes; running it again is harmless.
 *
 * --from-insightface [DIR]: the archive's own models, found where the earlier pipeline left them.
 * InsightFace unpacked buffalo_l into ~/.insightface/models/buffalo_l/ (DIR's default); its
 * det_10g.onnx (SCRFD detector) and w600k_r50.onnx (ArcFace recognizer, the model every face
 * of the archive was embedded with) are checked — the release's SHA-256, loadable, SCRFD's and
 * ArcFace's inputs and outputs — copied into models/ and made active. Nothing is downloaded.
 * A missing, truncated or different file stops it with the file named and models.json unchanged.
 *
 * Files copied into models/ by hand (det_10g.onnx, det_500m.onnx, w600k_r50.onnx, w600k_mbf.onnx)
 * are registered too; --detector / --recognizer select among the installed models. Thresholds
 * measured by ./jbang calibrate --write are kept. models.json is backed up to models/backups/
 * before it is rewritten.
 *
 * Options:  --from-insightface [DIR]  take buffalo_l's det_10g.onnx and w600k_r50.onnx from DIR
 *           --allow-other-hash        with --from-insightface: take files that are not the release's bytes
 *                                     (their shape must still fit; recorded as such)
 *           --detector NAME           the active detector (fr_detect, det_10g, det_500m)
 *           --recognizer NAME         the active recognizer (fr_feature, w600k_r50, w600k_mbf)
 *           --force                   fetch the default models again even if intact
 *           --models-dir DIR          where the models live (default: models)
 *           --dry-run                 check and say what would be installed; change nothing
 *           --json                    one JSON object on stdout
 * Example:  ./jbang fetch-models
 *           ./jbang fetch-models --from-insightface
 *           ./jbang fetch-models --from-insightface /mnt/old-laptop/.insightface/models/buffalo_l --dry-run
 */
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "fetch-models", mixinStandardHelpOptions = true,
        description = {"Installs the face models into models/ and writes models/models.json.",
                "Default: npm faceplugin-face-recognition-js@0.0.1, checked against pinned hashes.",
                "--from-insightface [DIR]: InsightFace's buffalo_l det_10g.onnx and w600k_r50.onnx,",
                "the archive's own models, from DIR (default ~/.insightface/models/buffalo_l):",
                "checked, copied into models/ and made active; nothing is downloaded.", "",
                "Example: ./jbang fetch-models",
                "         ./jbang fetch-models --from-insightface"})
public class fetch_models implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    @Option(names = "--from-insightface", arity = "0..1", paramLabel = "DIR", fallbackValue = "",
            description = "take buffalo_l's det_10g.onnx and w600k_r50.onnx from DIR (default: ~/.insightface/models/buffalo_l); nothing is downloaded")
    String fromInsightface;

    @Option(names = "--allow-other-hash", description = "with --from-insightface: take files that are not the buffalo_l release's bytes (their shape must fit)")
    boolean allowOtherHash;

    @Option(names = "--detector", paramLabel = "NAME", description = "the active detector: fr_detect (default), det_10g, det_500m")
    String detector;

    @Option(names = "--recognizer", paramLabel = "NAME", description = "the active recognizer: fr_feature (default), w600k_r50, w600k_mbf")
    String recognizer;

    @Option(names = "--force", description = "fetch the default models again even if they are intact")
    boolean force;

    public static void main(String... argv) {
        StepMain.exit(new fetch_models(), argv);
    }

    @Override
    public Integer call() throws Exception {
        boolean insight = fromInsightface != null;
        if (insight && force) throw new StepMain.UsageException("--force refetches the npm models; it does not go with --from-insightface");
        if (allowOtherHash && !insight) throw new StepMain.UsageException("--allow-other-hash goes with --from-insightface");
        Optional<Path> folder = insight && !fromInsightface.isBlank() ? Optional.of(Path.of(fromInsightface)) : Optional.empty();
        FetchModelsStep.Options options = new FetchModelsStep.Options(
                insight ? FetchModelsStep.Source.INSIGHTFACE : FetchModelsStep.Source.NPM_DEFAULTS, folder,
                Optional.ofNullable(detector), Optional.ofNullable(recognizer),
                force ? FetchModelsStep.Refetch.ALWAYS : FetchModelsStep.Refetch.IF_DAMAGED,
                allowOtherHash ? InsightFaceFiles.OtherHash.ACCEPT : InsightFaceFiles.OtherHash.REFUSE);
        return StepRunner.runScript(new FetchModelsStep(options), KitOptions.context(out, folders, dryRun.dryRun));
    }
}
