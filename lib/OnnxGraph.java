import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A small ONNX model written by hand: the few protobuf fields a graph of a handful of nodes
 * needs (nodes with integer attributes, float initializers, float inputs and outputs with fixed
 * or named dimensions). The kit builds its matrix-product graph for matching with it, and the
 * tests their stand-in face models; no onnx package is needed.
 *
 * <p>Example: {@code g.input("x", "n", 512); g.node("Gemm", List.of("x", "y"), List.of("z"), Attr.ints("transB", 1));
 * byte[] model = g.model("kit", 13);}
 *
 * <p>{@link #nodeProto} and {@link #floatTensor} give single messages, for a rewrite of an existing
 * model's graph (PReluAsConvolutions).
 */
public final class OnnxGraph {
    private final List<Proto> nodes = new ArrayList<>(), inits = new ArrayList<>(), inputs = new ArrayList<>(), outputs = new ArrayList<>();
    private final String name;

    public OnnxGraph(String name) {
        this.name = name;
    }

    /** An integer (one value) or integer-list attribute of a node, or (ints null) a float one. */
    public record Attr(String name, long[] ints, float f) {
        public static Attr ints(String name, long... v) {
            return new Attr(name, v, 0f);
        }

        public static Attr floats(String name, float v) {
            return new Attr(name, null, v);
        }
    }

    public void node(String op, List<String> in, List<String> out, Attr... attrs) {
        nodes.add(node(op, op + "_" + nodes.size(), in, out, attrs));
    }

    /** A NodeProto message: operator {@code op} of the default domain, named {@code name}. */
    public static byte[] nodeProto(String op, String name, List<String> in, List<String> out, Attr... attrs) {
        return node(op, name, in, out, attrs).bytes();
    }

    private static Proto node(String op, String name, List<String> in, List<String> out, Attr... attrs) {
        Proto n = new Proto();
        for (String s : in) n.string(1, s);
        for (String s : out) n.string(2, s);
        n.string(3, name);
        n.string(4, op);
        for (Attr a : attrs) {
            Proto ap = new Proto();
            ap.string(1, a.name());
            if (a.ints() == null) {
                ap.varint(20, 1);              // type FLOAT
                ap.fixed32(2, Float.floatToRawIntBits(a.f()));
            } else if (a.ints().length == 1) {
                ap.varint(20, 2);              // type INT
                ap.varint(3, a.ints()[0]);
            } else {
                ap.varint(20, 7);              // type INTS
                for (long v : a.ints()) ap.varint(8, v);
            }
            n.message(5, ap);
        }
        return n;
    }

    public void initializer(String name, float[] v, long... dims) {
        inits.add(tensor(name, v, dims));
    }

    /** A TensorProto message of floats (an initializer). */
    public static byte[] floatTensor(String name, float[] v, long... dims) {
        return tensor(name, v, dims).bytes();
    }

    private static Proto tensor(String name, float[] v, long... dims) {
        Proto t = new Proto();
        for (long d : dims) t.varint(1, d);
        t.varint(2, 1);                        // FLOAT
        t.string(8, name);
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        t.bytes(9, b.array());                 // raw_data
        return t;
    }

    public void constant(String name, float[] v) {
        initializer(name, v, v.length);
    }

    /** ONNX element types used here. */
    private static final int FLOAT = 1, INT64 = 7;

    /** A float input; each dimension a number (fixed) or a String (a named dimension, any size at run time). */
    public void input(String name, Object... dims) {
        inputs.add(valueInfo(name, FLOAT, dims));
    }

    /** A 64-bit integer input, dimensions as for {@link #input}. */
    public void int64Input(String name, Object... dims) {
        inputs.add(valueInfo(name, INT64, dims));
    }

    /** A float output, dimensions as for {@link #input}. */
    public void output(String name, Object... dims) {
        outputs.add(valueInfo(name, FLOAT, dims));
    }

    /** A 64-bit integer output, dimensions as for {@link #input}. */
    public void int64Output(String name, Object... dims) {
        outputs.add(valueInfo(name, INT64, dims));
    }

    /** The model file's bytes: this graph, ONNX IR version 8, the default operator set at {@code opset}. */
    public byte[] model(String producer, int opset) {
        Proto g = new Proto();
        for (Proto n : nodes) g.message(1, n);
        g.string(2, name);
        for (Proto t : inits) g.message(5, t);
        for (Proto i : inputs) g.message(11, i);
        for (Proto o : outputs) g.message(12, o);
        Proto model = new Proto();
        model.varint(1, 8);                    // ir_version
        model.string(2, producer);             // producer_name
        model.message(7, g);                   // graph
        Proto set = new Proto();
        set.string(1, "");
        set.varint(2, opset);
        model.message(8, set);                 // opset_import
        return model.bytes();
    }

    private static Proto valueInfo(String name, int elemType, Object... dims) {
        Proto shape = new Proto();
        for (Object d : dims) {
            Proto dim = new Proto();
            if (d instanceof Number n) dim.varint(1, n.longValue());   // dim_value
            else dim.string(2, d.toString());                          // dim_param
            shape.message(1, dim);
        }
        Proto tensor = new Proto();
        tensor.varint(1, elemType);            // elem_type
        tensor.message(2, shape);
        Proto type = new Proto();
        type.message(1, tensor);
        Proto vi = new Proto();
        vi.string(1, name);
        vi.message(2, type);
        return vi;
    }

    /** The protobuf wire format, as far as ONNX needs it. */
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

        void fixed32(int field, int v) {
            tag(field, 5);
            for (int k = 0; k < 4; k++) out.write((v >>> (8 * k)) & 0xFF);
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

        /** A field read from another message (tag and value), copied as it was. */
        void copy(byte[] from, int start, int end) {
            out.write(from, start, end - start);
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
