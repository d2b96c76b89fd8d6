import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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
 * <p>The ONNX protobuf is written by hand (no onnx package needed): only the fields used here.
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

        Graph g = new Graph();
        g.input("input.1", 1, 3, SIZE, SIZE);
        // zero = ReduceMean(input) * 0, a scalar that ties every output to the input
        g.node("ReduceMean", List.of("input.1"), List.of("mean"), Attr.ints("keepdims", 0));
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
        Proto model = new Proto();
        model.varint(1, 8);                       // ir_version
        model.string(2, "kit tiny scrfd");        // producer_name
        model.message(7, g.proto());              // graph
        Proto opset = new Proto();
        opset.string(1, "");
        opset.varint(2, 13);
        model.message(8, opset);                  // opset_import
        return model.bytes();
    }

    /** The few protobuf wire-format writes an ONNX model needs. */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        void tag(int field, int wire) {
            raw(((long) field << 3) | wire);
        }

        void raw(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        void varint(int field, long v) {
            tag(field, 0);
            raw(v);
        }

        void bytes(int field, byte[] b) {
            tag(field, 2);
            raw(b.length);
            out.writeBytes(b);
        }

        void string(int field, String s) {
            bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        void message(int field, Proto p) {
            bytes(field, p.bytes());
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    record Attr(String name, long[] ints) {
        static Attr ints(String name, long... v) {
            return new Attr(name, v);
        }
    }

    static final class Graph {
        private final List<Proto> nodes = new ArrayList<>(), inits = new ArrayList<>(), inputs = new ArrayList<>(), outputs = new ArrayList<>();

        void node(String op, List<String> in, List<String> out, Attr... attrs) {
            Proto n = new Proto();
            for (String s : in) n.string(1, s);
            for (String s : out) n.string(2, s);
            n.string(3, op + "_" + nodes.size());
            n.string(4, op);
            for (Attr a : attrs) {
                Proto ap = new Proto();
                ap.string(1, a.name());
                if (a.ints().length == 1) {
                    ap.varint(20, 2);              // type INT
                    ap.varint(3, a.ints()[0]);
                } else {
                    ap.varint(20, 7);              // type INTS
                    for (long v : a.ints()) ap.varint(8, v);
                }
                n.message(5, ap);
            }
            nodes.add(n);
        }

        void initializer(String name, float[] v, long... dims) {
            Proto t = new Proto();
            for (long d : dims) t.varint(1, d);
            t.varint(2, 1);                        // FLOAT
            t.string(8, name);
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) b.putFloat(f);
            t.bytes(9, b.array());                 // raw_data
            inits.add(t);
        }

        void constant(String name, float[] v) {
            initializer(name, v, v.length);
        }

        void input(String name, long... dims) {
            inputs.add(valueInfo(name, dims));
        }

        void output(String name, long... dims) {
            outputs.add(valueInfo(name, dims));
        }

        static Proto valueInfo(String name, long... dims) {
            Proto shape = new Proto();
            for (long d : dims) {
                Proto dim = new Proto();
                dim.varint(1, d);
                shape.message(1, dim);
            }
            Proto tensor = new Proto();
            tensor.varint(1, 1);                   // elem_type FLOAT
            tensor.message(2, shape);
            Proto type = new Proto();
            type.message(1, tensor);
            Proto vi = new Proto();
            vi.string(1, name);
            vi.message(2, type);
            return vi;
        }

        Proto proto() {
            Proto g = new Proto();
            for (Proto n : nodes) g.message(1, n);
            g.string(2, "tiny_scrfd");
            for (Proto t : inits) g.message(5, t);
            for (Proto i : inputs) g.message(11, i);
            for (Proto o : outputs) g.message(12, o);
            return g;
        }
    }
}
