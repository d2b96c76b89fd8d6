import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The default detector on real photos: every face down to 20 px (mosaics made here from
 * ../shared/eval), every face of ../shared/eval kept, and no animal face — upright or turned,
 * since ingest looks at a photo turned when it shows no upright face (that is how dlib's
 * dogs.jpg gave two "faces" before).
 */
class FaceDetectionTest {
    static final Path EVAL = FaceModelsTest.EVAL;

    /** dogs.jpg's one human face: a small portrait on a magazine cover lying on its side (upright coordinates). */
    static final float[] MAGAZINE_FACE = {63, 461, 107, 491};

    @Test
    void theDefaultLooksForFacesDownTo20PxAndFlagsThoseUnder30AsLowQuality() {
        assertEquals(20, FaceDetector.DEFAULT_MIN_FACE);
        assertTrue(new FaceDetector.Face(new float[] {0, 0, 29.5f, 40}, 0.99f, null).lowQuality());
        assertFalse(new FaceDetector.Face(new float[] {0, 0, 30, 40}, 0.99f, null).lowQuality());
    }

    @Test
    void twentyPixelFacesOnMosaicsOfTheEvalFacesAreFoundByDefault() throws Exception {
        FaceModelsTest.assumeEval();
        FaceModels m = FaceModelsTest.models();
        FaceDetector det = new FaceDetector(FaceModels.session(FaceModelsTest.MODELS.resolve("fr_detect.onnx"), 1), ModelCatalog.FAMILY_ULTRAFACE, 0)
                .secondLook((img, f) -> m.embedder.embed(m.aligner.align(img, m.aligner.fivePoints(img, f))).quality());
        List<FaceMosaic.Mosaic> mosaics = FaceMosaic.make(EVAL, det, 193, 20, 90);
        int found = 0, total = 0, small = 0, flagged = 0;
        List<Integer> missed = new ArrayList<>();
        for (FaceMosaic.Mosaic mo : mosaics) {
            List<FaceDetector.Face> faces = det.detect(mo.image());
            FaceMosaic.Recall r = FaceMosaic.recall(mo, faces);
            found += r.found();
            total += r.total();
            missed.addAll(r.missedSizes());
            for (FaceDetector.Face f : faces) {
                if (f.width() < 30) small++;
                if (f.lowQuality()) flagged++;
            }
        }
        assertEquals(193, total);
        assertTrue(found >= 192, found + " of 193 faces of 20-90 px found; missed sizes " + missed);
        assertTrue(small > 40, "a third of the faces are under 30 px: " + small);
        assertEquals(small, flagged, "every face under 30 px is flagged low-quality");
    }

    @Test
    void everyFaceOfTheEvalPhotosIsKeptAndNoneIsInvented() throws Exception {
        FaceModelsTest.assumeEval();
        FaceDetector det = FaceModelsTest.models().detector;
        EvalDetection.Score score = EvalDetection.score(EVAL, det);
        int required = score.required(), matched = score.matched(), invented = score.falseFaces();
        assertEquals(18, required);
        assertEquals(18, matched, "every labelled face of eval/detection");
        assertEquals(0, invented, "no false face on eval/detection");
        int group = 0;
        try (Stream<Path> s = Files.list(EVAL.resolve("group-photos"))) {
            for (Path p : s.filter(p -> p.toString().endsWith(".jpg")).toList()) group += det.detect(Photos.decode(p).image()).size();
        }
        assertEquals(23, group, "the 23 faces of eval/group-photos");
    }

    @Test
    void animalPhotosGiveNoFaceUprightOrTurned() throws Exception {
        String[] why = new String[1];
        List<Path> photos = AnimalPhotos.fetch(AnimalPhotos.defaultCache(), why);
        Assumptions.assumeTrue(photos != null, () -> why[0]);
        FaceDetector det = FaceModelsTest.models().detector;
        List<String> falseFaces = new ArrayList<>();
        for (Path p : photos) {
            Photos.Image upright = Photos.decode(p).image();
            for (int turn : new int[] {0, 90, 180, 270}) {
                Photos.Image img = turn == 0 ? upright : Photos.rotate(upright, turn);
                for (FaceDetector.Face f : det.detect(img)) {
                    float[] b = Photos.unturnBox(f.box(), turn, upright.width, upright.height);
                    if (p.getFileName().toString().equals("dogs.jpg") && FaceDetector.iou(b, MAGAZINE_FACE) > 0.3) continue;
                    falseFaces.add(String.format("%s turned %d: box %.0f,%.0f,%.0f,%.0f score %.4f", p.getFileName(), turn, b[0], b[1], b[2], b[3], f.score()));
                }
            }
        }
        assertEquals(List.of(), falseFaces);
    }
}
