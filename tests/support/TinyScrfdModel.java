import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a tiny ONNX model with SCRFD's input/output signature (input "input.1"
 * [1,3,S,S]; for strides 8, 16, 32 a score [N,1], box [N,4] and keypoint [N,10] output, 2
 * anchors per cell) whose outputs are fixed: one face at a known place, an overlapping weaker
 * duplicate (NMS must drop it) and a score below the threshold. The input is used (its mean
 * times 0 is added to every output) so the graph is a real function of the image.
 *
 * <p>The ONNX protobuf is written by {@link OnnxGraph}.
 * tools/make_tiny_scrfd.java is the command-line front; FaceModelsTest uses it in-process.
 */
public final class TinyScrfdModel {
    private TinyScrfdModel() {}

    public static final int SIZE = 160;
    /** The face, in the model's 160x160 input: stride 16, cell (4,3), anchor 1 -> centre (64,48). */
    public static final float[] FACE_BOX = {64 - 1.5f * 16, 48 - 2f * 16, 64 + 1.5f * 16, 48 + 2.5f * 16};
    public static final float FACE_SCORE = 0.95f;
    static final float[] KPS = {-0.5f, -0.5f, 0.5f, -0.5f, 0f, 0f, -0.4f, 0.6f, 0.4f, 0.6f};

    public static void write(Path file) throws IOException {
        Files.write(file, build());
    }

    public static byte[] build() {
        int[] strides = {8, 16, 32};
        List<float[]> scores = new ArrayList<>(), boxes = new ArrayList<>(), kps = new ArrayList<>();
        for (int s : strides) {
            int n = (SIZE / s) * (SIZE / s) * 2;
            scores.add(new float[n]);
            boxes.add(new float[n * 4]);
            kps.add(new float[n * 10]);
        }
        // the face: stride 16 (index 1), cell x=4, y=3, anchor 1
        int fw16 = SIZE / 16;
        int i = (3 * fw16 + 4) * 2 + 1;
        scores.get(1)[i] = FACE_SCORE;
        System.arraycopy(new float[] {1.5f, 2f, 1.5f, 2.5f}, 0, boxes.get(1), i * 4, 4);
        System.arraycopy(KPS, 0, kps.get(1), i * 10, 10);
        // a weaker duplicate of it at stride 8 (centre (64,48) = cell 8,6): NMS must remove it
        int fw8 = SIZE / 8;
        int j = (6 * fw8 + 8) * 2;
        scores.get(0)[j] = 0.7f;
        System.arraycopy(new float[] {3f, 4f, 3f, 5f}, 0, boxes.get(0), j * 4, 4);
        // below the 0.5 threshold: must be ignored
        scores.get(2)[5] = 0.3f;
        System.arraycopy(new float[] {1f, 1f, 1f, 1f}, 0, boxes.get(2), 20, 4);

        OnnxGraph g = new OnnxGraph("tiny_scrfd");
        g.input("input.1", 1, 3, SIZE, SIZE);
        // zero = ReduceMean(input) * 0, a scalar that ties every output to the input
        g.node("ReduceMean", List.of("input.1"), List.of("mean"), OnnxGraph.Attr.ints("keepdims", 0));
        g.constant("zero_f", new float[] {0f});
        g.node("Mul", List.of("mean", "zero_f"), List.of("zero"));
        String[] kinds = {"score", "bbox", "kps"};
        int[] widths = {1, 4, 10};
        List<List<float[]>> data = List.of(scores, boxes, kps);
        for (int k = 0; k < 3; k++) {
            for (int si = 0; si < 3; si++) {
                float[] v = data.get(k).get(si);
                String c = kinds[k] + "_" + strides[si] + "_c", out = kinds[k] + "_" + strides[si];
                g.initializer(c, v, v.length / widths[k], widths[k]);
                g.node("Add", List.of(c, "zero"), List.of(out));
                g.output(out, v.length / widths[k], widths[k]);
            }
        }
        return g.model("kit tiny scrfd", 13);
    }
}
