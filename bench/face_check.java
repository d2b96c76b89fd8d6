///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx2g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Layout.java ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/ModelCatalog.java ../lib/Timestamps.java
//SOURCES ../lib/Photos.java ../lib/FaceModels.java ../lib/OnnxRuntimeLibraries.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java ../lib/FaceQuality.java ../lib/OnnxGraph.java ../lib/PReluAsConvolutions.java
//SOURCES ../tests/support/FaceMosaic.java ../tests/support/AnimalPhotos.java

/*
 * What the detector's second look (FaceDetector.plausible) is measured on (not a test): every
 * box fr_detect gives at the 0.9 threshold, with its width, score and the recognizer's raw
 * embedding norm, and whether the second look keeps it, on
 *   - animal photos from Debian packages (tests/support/AnimalPhotos.java), upright and turned
 *     90/180/270 degrees (ingest looks at a photo turned when it shows no upright face);
 *   - every face of ../shared/eval/detection and group-photos, and of the 20-90 px mosaics.
 * Options:  --models-dir DIR, --eval DIR, --rows (print every box)
 * Example:  ./jbang bench/face_check.java
 */
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "face_check", mixinStandardHelpOptions = true, description = "Scores and embedding norms of animal and real face boxes; what the second look keeps.")
public class face_check implements Callable<Integer> {
    @Option(names = "--models-dir", paramLabel = "DIR") Path modelsDir;
    @Option(names = "--eval", paramLabel = "DIR") Path evalDir;
    @Option(names = "--rows", description = "print every box") boolean rows;

    public static void main(String... argv) {
        StepMain.exit(new face_check(), argv);
    }

    record Box(String what, float width, float score, double norm, boolean kept) {}

    @Override
    public Integer call() throws Exception {
        KitConfig cfg = KitConfig.load();
        Console console = Console.standard(false);
        Path eval = evalDir != null ? evalDir : cfg.root().resolve("../shared/eval").normalize();
        try (FaceModels m = FaceModels.open((modelsDir != null ? modelsDir.toAbsolutePath().normalize() : Layout.standard(cfg.root()).models()), 1)) {
            // The same detector without the second look: every box the model gives at 0.9.
            FaceDetector raw = new FaceDetector(FaceModels.session((modelsDir != null ? modelsDir.toAbsolutePath().normalize() : Layout.standard(cfg.root()).models()).resolve("fr_detect.onnx"), 1),
                    ModelCatalog.FAMILY_ULTRAFACE, 0);
            FaceDetector.SecondLook look = (img, f) -> m.embedder.embed(m.aligner.align(img, m.aligner.fivePoints(img, f))).quality();
            List<Box> animals = new ArrayList<>(), faces = new ArrayList<>();
            String[] why = new String[1];
            List<Path> photos = AnimalPhotos.fetch(AnimalPhotos.defaultCache(), why);
            if (photos == null) console.warn(why[0]);
            else {
                for (Path p : photos) {
                    Photos.Image up = Photos.decode(p).image();
                    for (int turn : new int[] {0, 90, 180, 270}) {
                        Photos.Image img = turn == 0 ? up : Photos.rotate(up, turn);
                        for (FaceDetector.Face f : raw.detect(img)) animals.add(box(p.getFileName() + " turned " + turn, img, f, look));
                    }
                }
            }
            List<Photos.Image> real = new ArrayList<>();
            for (String dir : new String[] {"detection", "group-photos"}) {
                try (Stream<Path> s = Files.list(eval.resolve(dir))) {
                    for (Path p : s.filter(p -> p.toString().endsWith(".jpg")).sorted().toList()) real.add(Photos.decode(p).image());
                }
            }
            List<FaceMosaic.Mosaic> mosaics = FaceMosaic.make(eval, raw, 193, 20, 90);
            for (Photos.Image img : real) for (FaceDetector.Face f : raw.detect(img)) faces.add(box("eval", img, f, look));
            for (FaceMosaic.Mosaic mo : mosaics) {
                for (FaceDetector.Face f : raw.detect(mo.image())) {
                    boolean labelled = mo.boxes().stream().anyMatch(b -> FaceDetector.iou(b, f.box()) >= 0.3);
                    if (labelled) faces.add(box("mosaic", mo.image(), f, look));
                }
            }
            for (Box b : animals) console.info(String.format("animal  %-22s w %4.0f  score %.4f  norm %.2f  %s", b.what(), b.width(), b.score(), b.norm(), b.kept() ? "KEPT" : "dropped"));
            if (rows) for (Box b : faces) console.info(String.format("face    %-22s w %4.0f  score %.4f  norm %.2f  %s", b.what(), b.width(), b.score(), b.norm(), b.kept() ? "kept" : "DROPPED"));
            console.info(String.format("animal boxes: %d at score >= 0.9, %d kept by the second look", animals.size(), animals.stream().filter(Box::kept).count()));
            console.info(String.format("real faces (eval photos + mosaics): %d at score >= 0.9, %d dropped by the second look", faces.size(), faces.stream().filter(b -> !b.kept()).count()));
        }
        return StepMain.OK;
    }

    static Box box(String what, Photos.Image img, FaceDetector.Face f, FaceDetector.SecondLook look) {
        return new Box(what, f.width(), f.score(), look.norm(img, f), FaceDetector.plausible(f, look, img));
    }
}
