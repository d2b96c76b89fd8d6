import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A face model's PRelu activations rewritten as operations ONNX Runtime runs in its blocked
 * (NCHWc) layout, which gives the same bits: PRelu(x) = Relu(x) + (-slope) * Relu(-x), the
 * two products being 1x1 depthwise convolutions (weights -1, then -slope per channel).
 *
 * <p>Why: ONNX Runtime keeps convolutions in the blocked layout, but has no blocked PRelu, so
 * each PRelu converts its tensor back, runs a plain per-element loop, and converts again. In
 * the default recognizer (fr_feature: 50 convolutions, 33 PRelu) that was 8.3 of 14.2 ms per
 * face; rewritten, a face takes 7.6 ms, one core, ONNX Runtime 1.29.
 *
 * <p>Why the same bits: for x > 0 the second term is (-s) * 0 = 0 and x + 0 = x; for x < 0 the
 * first is 0 and (-s) * (-x) = s * x exactly (negation is exact). A convolution over one value
 * with no bias computes the one product. FaceModels.OptimisedModels still checks the outputs
 * of both forms bit for bit before it keeps the rewritten one, and uses the model as it is
 * when they differ.
 */
public final class PReluAsConvolutions {
    private PReluAsConvolutions() {}

    /** Prefix of the names the rewrite adds; a model already holding it is left alone. */
    static final String PREFIX = "kit.prelu_as_conv.";

    /**
     * The model with every PRelu whose slope is a per-channel initializer ([C,1,1] floats)
     * rewritten; null when there is none, or the model is not one this reads (then it is used as
     * it is).
     */
    public static byte[] rewrite(byte[] model) {
        try {
            return rewriteOrNull(model);
        } catch (RuntimeException e) {
            return null;   // not a protobuf this understands: the model as it is
        }
    }

    private static byte[] rewriteOrNull(byte[] model) {
        if (new String(model, StandardCharsets.ISO_8859_1).contains(PREFIX)) return null;
        List<Field> top = fields(model, 0, model.length);
        Field graph = null;
        for (Field f : top) if (f.number == 7 && f.wire == 2) graph = f;   // ModelProto.graph
        if (graph == null) return null;
        List<Field> parts = fields(model, graph.valueStart, graph.valueEnd);
        Map<String, float[]> slopes = new HashMap<>();
        for (Field f : parts) {
            if (f.number == 5 && f.wire == 2) {   // GraphProto.initializer
                Slope s = slope(model, f);
                if (s != null) slopes.put(s.name, s.values);
            }
        }
        OnnxGraph.Proto g = new OnnxGraph.Proto();
        int rewritten = 0;
        for (Field f : parts) {
            float[] s = null;
            Node n = null;
            if (f.number == 1 && f.wire == 2) {   // GraphProto.node
                n = node(model, f);
                if (n.op.equals("PRelu") && n.domain.isEmpty() && n.in.size() == 2 && n.out.size() == 1) s = slopes.get(n.in.get(1));
            }
            if (s == null) {
                g.copy(model, f.start, f.end);
                continue;
            }
            String p = PREFIX + rewritten++ + ".", x = n.in.get(0);
            float[] minusOne = new float[s.length], minusSlope = new float[s.length];
            for (int c = 0; c < s.length; c++) {
                minusOne[c] = -1f;
                minusSlope[c] = -s[c];
            }
            OnnxGraph.Attr group = OnnxGraph.Attr.ints("group", s.length), kernel = OnnxGraph.Attr.ints("kernel_shape", 1, 1);
            g.bytes(5, OnnxGraph.floatTensor(p + "minus_one", minusOne, s.length, 1, 1, 1));
            g.bytes(5, OnnxGraph.floatTensor(p + "minus_slope", minusSlope, s.length, 1, 1, 1));
            g.bytes(1, OnnxGraph.nodeProto("Conv", p + "negate", List.of(x, p + "minus_one"), List.of(p + "neg_x"), group, kernel));
            g.bytes(1, OnnxGraph.nodeProto("Relu", p + "negative_part", List.of(p + "neg_x"), List.of(p + "relu_neg_x")));
            g.bytes(1, OnnxGraph.nodeProto("Conv", p + "scale", List.of(p + "relu_neg_x", p + "minus_slope"), List.of(p + "scaled"), group, kernel));
            g.bytes(1, OnnxGraph.nodeProto("Relu", p + "positive_part", List.of(x), List.of(p + "relu_x")));
            g.bytes(1, OnnxGraph.nodeProto("Add", n.name.isEmpty() ? p + "sum" : n.name, List.of(p + "relu_x", p + "scaled"), n.out));
        }
        if (rewritten == 0) return null;
        OnnxGraph.Proto m = new OnnxGraph.Proto();
        for (Field f : top) {
            if (f == graph) m.bytes(7, g.bytes());
            else m.copy(model, f.start, f.end);
        }
        return m.bytes();
    }

    /** A node's inputs, outputs, name, operator and domain (NodeProto fields 1, 2, 3, 4, 7). */
    private record Node(List<String> in, List<String> out, String name, String op, String domain) {}

    private static Node node(byte[] b, Field n) {
        List<String> in = new ArrayList<>(), out = new ArrayList<>();
        String name = "", op = "", domain = "";
        for (Field f : fields(b, n.valueStart, n.valueEnd)) {
            if (f.wire != 2) continue;
            String s = new String(b, f.valueStart, f.valueEnd - f.valueStart, StandardCharsets.UTF_8);
            switch (f.number) {
                case 1 -> in.add(s);
                case 2 -> out.add(s);
                case 3 -> name = s;
                case 4 -> op = s;
                case 7 -> domain = s;
                default -> { }
            }
        }
        return new Node(in, out, name, op, domain);
    }

    private record Slope(String name, float[] values) {}

    /** An initializer that is a per-channel slope: float, dims [C,1,1], its data inline. Else null. */
    private static Slope slope(byte[] b, Field t) {
        List<Long> dims = new ArrayList<>();
        long type = 0;
        String name = null;
        float[] raw = null;
        List<Float> floats = new ArrayList<>();
        for (Field f : fields(b, t.valueStart, t.valueEnd)) {
            switch (f.number) {
                case 1 -> {   // dims: plain or packed varints
                    if (f.wire == 0) dims.add(f.varint);
                    else if (f.wire == 2) for (int[] at = {f.valueStart}; at[0] < f.valueEnd; ) dims.add(varint(b, at));
                }
                case 2 -> type = f.varint;
                case 4 -> {   // float_data: packed or one at a time
                    if (f.wire == 5) floats.add(Float.intBitsToFloat((int) f.varint));
                    else if (f.wire == 2) {
                        ByteBuffer bb = ByteBuffer.wrap(b, f.valueStart, f.valueEnd - f.valueStart).order(ByteOrder.LITTLE_ENDIAN);
                        while (bb.remaining() >= 4) floats.add(bb.getFloat());
                    }
                }
                case 8 -> name = new String(b, f.valueStart, f.valueEnd - f.valueStart, StandardCharsets.UTF_8);
                case 9 -> {
                    ByteBuffer bb = ByteBuffer.wrap(b, f.valueStart, f.valueEnd - f.valueStart).order(ByteOrder.LITTLE_ENDIAN);
                    raw = new float[bb.remaining() / 4];
                    for (int i = 0; i < raw.length; i++) raw[i] = bb.getFloat();
                }
                case 14 -> { return null; }   // data_location: the data lives in another file
                default -> { }
            }
        }
        if (type != 1 || name == null || dims.size() != 3 || dims.get(1) != 1 || dims.get(2) != 1 || dims.get(0) < 1) return null;
        float[] v = raw != null ? raw : new float[floats.size()];
        if (raw == null) for (int i = 0; i < v.length; i++) v[i] = floats.get(i);
        return v.length == dims.get(0) ? new Slope(name, v) : null;
    }

    /**
     * One field of a protobuf message: number, wire type, the value (a varint or fixed value) or,
     * for a length-delimited field, where its bytes are; start/end cover the whole field (tag too).
     */
    private record Field(int number, int wire, long varint, int valueStart, int valueEnd, int start, int end) {}

    private static List<Field> fields(byte[] b, int from, int to) {
        List<Field> out = new ArrayList<>();
        int[] at = {from};
        while (at[0] < to) {
            int start = at[0];
            long tag = varint(b, at);
            int number = (int) (tag >>> 3), wire = (int) (tag & 7);
            long v = 0;
            int vs = at[0], ve;
            switch (wire) {
                case 0 -> v = varint(b, at);
                case 1 -> at[0] += 8;
                case 2 -> {
                    long len = varint(b, at);
                    if (len < 0 || len > to - at[0]) throw new IllegalArgumentException("a field runs past its message");
                    vs = at[0];
                    at[0] += (int) len;
                }
                case 5 -> {
                    v = (b[at[0]] & 0xffL) | (b[at[0] + 1] & 0xffL) << 8 | (b[at[0] + 2] & 0xffL) << 16 | (b[at[0] + 3] & 0xffL) << 24;
                    at[0] += 4;
                }
                default -> throw new IllegalArgumentException("wire type " + wire);
            }
            ve = at[0];
            if (ve > to) throw new IllegalArgumentException("a field runs past its message");
            out.add(new Field(number, wire, v, vs, ve, start, at[0]));
        }
        return out;
    }

    private static long varint(byte[] b, int[] at) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte x = b[at[0]++];
            v |= (long) (x & 0x7f) << shift;
            if (x >= 0) return v;
        }
        throw new IllegalArgumentException("a varint longer than 10 bytes");
    }
}
