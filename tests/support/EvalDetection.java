import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Detection scored against ../shared/eval/detection/boxes.json the way shared/eval/README.md
 * says: a detection matches the unused labelled box it overlaps most, at IoU 0.3 or more;
 * recall counts the required boxes matched; a detection that matches no box (ignored boxes
 * included) is a false face. The one scoring rule for the tests and the benchmarks.
 */
public final class EvalDetection {
    private EvalDetection() {}

    public record Score(int required, int matched, int falseFaces, int photos) {}

    public static Score score(Path eval, FaceDetector detector) throws Exception {
        JsonNode labels = JsonFiles.read(eval.resolve("detection/boxes.json"));
        int required = 0, matched = 0, falseFaces = 0, photos = 0;
        for (var it = labels.fields(); it.hasNext(); ) {
            var e = it.next();
            photos++;
            List<float[]> boxes = new ArrayList<>();
            List<Boolean> ignore = new ArrayList<>();
            for (JsonNode b : e.getValue()) {
                float x = b.get("x").floatValue(), y = b.get("y").floatValue();
                boxes.add(new float[] {x, y, x + b.get("w").floatValue(), y + b.get("h").floatValue()});
                boolean ignored = b.path("ignore").asBoolean(false);
                ignore.add(ignored);
                if (!ignored) required++;
            }
            boolean[] used = new boolean[boxes.size()];
            for (FaceDetector.Face f : detector.detect(Photos.decode(eval.resolve("detection").resolve(e.getKey())).image())) {
                int best = -1;
                double bestIou = 0.3;
                for (int i = 0; i < boxes.size(); i++) {
                    double iou = FaceDetector.iou(f.box(), boxes.get(i));
                    if (!used[i] && iou >= bestIou) {
                        best = i;
                        bestIou = iou;
                    }
                }
                if (best < 0) {
                    falseFaces++;
                } else {
                    used[best] = true;
                    if (!ignore.get(best)) matched++;
                }
            }
        }
        return new Score(required, matched, falseFaces, photos);
    }
}
