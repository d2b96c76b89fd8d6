import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the legacy {@code embeddings.npy} the earlier Python pipeline wrote: a NumPy file whose
 * one object array is a Python pickle (protocol 3) of a list of dicts (data-files.md).
 *
 * <p>This is a minimal pickle interpreter for the opcodes NumPy's {@code np.save} produces for
 * such a file, nothing more. It never runs code: the only globals it accepts are NumPy's
 * {@code _reconstruct}, {@code scalar}, {@code ndarray} and {@code dtype} (NumPy 1 {@code numpy.core.multiarray}
 * and NumPy 2 {@code numpy._core.multiarray} spellings), which it imitates. Any other global or
 * opcode is refused with a message naming the file.
 *
 * <p>Python values become: dict → LinkedHashMap, list → ArrayList, tuple → {@link Tuple},
 * str → String, bytes → byte[], int → Long, float → Double, bool → Boolean, None → null,
 * a numeric ndarray → {@link FloatArray}, an object ndarray → the List of its items.
 */
public final class NpyPickleReader {
    /** A Python tuple. */
    public record Tuple(Object[] items) {
        Object get(int i) {
            return items[i];
        }
    }

    /** A 1-D or 2-D float array (float32 or float64 in the file), values as float32. */
    public record FloatArray(int[] shape, float[] values) {}

    private record Global(String module, String name) {}

    /** What {@code _reconstruct(ndarray, (0,), b'b')} returns, filled in later by BUILD. */
    private static final class PendingArray {
        Object built;
    }

    /** What {@code dtype('f4', False, True)} returns; BUILD then sets its byte order. */
    private static final class DType {
        final String code;
        char byteOrder = '=';

        DType(String code) {
            this.code = code;
        }
    }

    private static final Object MARK = new Object();

    private final byte[] data;
    private final String what;
    private int pos;

    private NpyPickleReader(byte[] data, int start, String what) {
        this.data = data;
        this.pos = start;
        this.what = what;
    }

    /** The list of dicts stored in a legacy pickled {@code .npy} file. */
    @SuppressWarnings("unchecked")
    public static List<Map<String, Object>> readDicts(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new KitException("cannot read " + file + ": " + e.getMessage(), "check the file's permissions", e);
        }
        return readDicts(bytes, file.toString());
    }

    /** The list of dicts in the bytes of a legacy pickled {@code .npy} file; {@code what} names it in messages. */
    @SuppressWarnings("unchecked")
    public static List<Map<String, Object>> readDicts(byte[] bytes, String what) {
        int start = pickleStart(bytes, what);
        Object top = new NpyPickleReader(bytes, start, what).load();
        if (!(top instanceof List<?> list)) {
            throw bad(what, "it holds a " + describe(top) + ", not the list of faces expected");
        }
        List<Map<String, Object>> out = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof Map<?, ?> m)) {
                throw bad(what, "entry " + i + " is a " + describe(list.get(i)) + ", not a dict");
            }
            out.add((Map<String, Object>) m);
        }
        return out;
    }

    /** Checks the .npy header (an object array) and returns where the pickle starts. */
    static int pickleStart(byte[] b, String what) {
        if (b.length < 10 || (b[0] & 0xff) != 0x93 || !"NUMPY".equals(new String(b, 1, 5, StandardCharsets.ISO_8859_1))) {
            throw bad(what, "it is not a NumPy .npy file (no \\x93NUMPY magic)");
        }
        int major = b[6] & 0xff;
        int headerLen;
        int headerStart;
        if (major == 1) {
            headerLen = (b[8] & 0xff) | (b[9] & 0xff) << 8;
            headerStart = 10;
        } else if (major == 2 || major == 3) {
            headerLen = ByteBuffer.wrap(b, 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
            headerStart = 12;
        } else {
            throw bad(what, "unknown .npy format version " + major);
        }
        if (headerStart + headerLen > b.length) throw bad(what, "the .npy header is cut short");
        String header = new String(b, headerStart, headerLen, StandardCharsets.ISO_8859_1);
        if (!header.contains("'|O'")) {
            throw bad(what, "it is a plain numeric array (header " + header.strip()
                    + "), not the legacy list of face dicts");
        }
        return headerStart + headerLen;
    }

    private Object load() {
        List<Object> stack = new ArrayList<>();
        Map<Integer, Object> memo = new HashMap<>();
        while (true) {
            if (pos >= data.length) throw bad(what, "the pickle ends without its STOP mark (file cut short?)");
            int op = data[pos++] & 0xff;
            switch (op) {
                case 0x80 -> { // PROTO
                    int proto = u8();
                    if (proto > 4) throw bad(what, "pickle protocol " + proto + " is not supported");
                }
                case 0x95 -> pos += 8; // FRAME (protocol 4): the length is only a read-ahead hint
                case '.' -> { // STOP
                    return pop(stack);
                }
                case '(' -> stack.add(MARK);
                case ']' -> stack.add(new ArrayList<>());
                case '}' -> stack.add(new LinkedHashMap<String, Object>());
                case ')' -> stack.add(new Tuple(new Object[0]));
                case 'N' -> stack.add(null);
                case 0x88 -> stack.add(Boolean.TRUE);
                case 0x89 -> stack.add(Boolean.FALSE);
                case 'K' -> stack.add((long) u8()); // BININT1
                case 'M' -> stack.add((long) (u8() | u8() << 8)); // BININT2
                case 'J' -> stack.add((long) i32()); // BININT
                case 0x8a -> stack.add(long1()); // LONG1
                case 'G' -> { // BINFLOAT: big-endian double
                    need(8);
                    stack.add(ByteBuffer.wrap(data, pos, 8).order(ByteOrder.BIG_ENDIAN).getDouble());
                    pos += 8;
                }
                case 'X' -> stack.add(text(i32())); // BINUNICODE
                case 0x8c -> stack.add(text(u8())); // SHORT_BINUNICODE
                case 'B' -> stack.add(bytes(i32())); // BINBYTES
                case 'C' -> stack.add(bytes(u8())); // SHORT_BINBYTES
                case 'q' -> memo.put(u8(), peek(stack)); // BINPUT
                case 'r' -> memo.put(i32(), peek(stack)); // LONG_BINPUT
                case 0x94 -> memo.put(memo.size(), peek(stack)); // MEMOIZE
                case 'h' -> stack.add(fromMemo(memo, u8())); // BINGET
                case 'j' -> stack.add(fromMemo(memo, i32())); // LONG_BINGET
                case 0x85 -> stack.add(new Tuple(new Object[] {pop(stack)})); // TUPLE1
                case 0x86 -> { // TUPLE2
                    Object b = pop(stack), a = pop(stack);
                    stack.add(new Tuple(new Object[] {a, b}));
                }
                case 0x87 -> { // TUPLE3
                    Object c = pop(stack), b = pop(stack), a = pop(stack);
                    stack.add(new Tuple(new Object[] {a, b, c}));
                }
                case 't' -> stack.add(new Tuple(popToMark(stack).toArray())); // TUPLE
                case 'a' -> { // APPEND
                    Object v = pop(stack);
                    asList(peek(stack)).add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popToMark(stack);
                    asList(peek(stack)).addAll(items);
                }
                case 's' -> { // SETITEM
                    Object v = pop(stack), k = pop(stack);
                    asDict(peek(stack)).put(key(k), v);
                }
                case 'u' -> { // SETITEMS
                    List<Object> kv = popToMark(stack);
                    Map<String, Object> d = asDict(peek(stack));
                    for (int i = 0; i + 1 < kv.size(); i += 2) d.put(key(kv.get(i)), kv.get(i + 1));
                }
                case 'c' -> stack.add(global(line(), line())); // GLOBAL
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(stack), module = pop(stack);
                    stack.add(global(String.valueOf(module), String.valueOf(name)));
                }
                case 'R' -> { // REDUCE
                    Object args = pop(stack), fn = pop(stack);
                    stack.add(reduce(fn, args));
                }
                case 'b' -> { // BUILD
                    Object state = pop(stack);
                    Object obj = pop(stack);
                    stack.add(build(obj, state));
                }
                default -> throw bad(what, String.format("pickle opcode 0x%02x at byte %d is not one NumPy writes for this file", op, pos - 1));
            }
        }
    }

    private Object global(String module, String name) {
        boolean numpy = module.equals("numpy") || module.equals("numpy.core.multiarray") || module.equals("numpy._core.multiarray");
        if (numpy && (name.equals("_reconstruct") || name.equals("ndarray") || name.equals("dtype") || name.equals("scalar"))) {
            return new Global(module, name);
        }
        throw bad(what, "the pickle refers to " + module + "." + name + ", which a legacy embeddings file never holds");
    }

    private Object reduce(Object fn, Object args) {
        if (!(fn instanceof Global g) || !(args instanceof Tuple t)) {
            throw bad(what, "unexpected call in the pickle (" + describe(fn) + ")");
        }
        if (g.name().equals("_reconstruct")) return new PendingArray();
        if (g.name().equals("dtype") && t.items().length >= 1 && t.get(0) instanceof String code) return new DType(code);
        // A NumPy scalar (e.g. an InsightFace det_score left as numpy.float32): scalar(dtype, raw bytes).
        if (g.name().equals("scalar") && t.items().length == 2 && t.get(0) instanceof DType dt && t.get(1) instanceof byte[] raw) {
            return scalar(dt, raw);
        }
        throw bad(what, "unexpected call " + g.module() + "." + g.name() + " in the pickle");
    }

    /** ndarray.__setstate__((version, shape, dtype, fortran, data)) and dtype.__setstate__((3, order, ...)). */
    private Object build(Object obj, Object state) {
        if (obj instanceof DType dt) {
            if (state instanceof Tuple t && t.items().length >= 2 && t.get(1) instanceof String order && !order.isEmpty()) {
                dt.byteOrder = order.charAt(0);
            }
            return dt;
        }
        if (obj instanceof PendingArray pa && state instanceof Tuple t && t.items().length == 5) {
            int[] shape = shape(t.get(1));
            if (!(t.get(2) instanceof DType dt)) throw bad(what, "an array without a dtype in the pickle");
            if (Boolean.TRUE.equals(t.get(3)) && shape.length > 1) throw bad(what, "a Fortran-ordered array in the pickle");
            pa.built = array(shape, dt, t.get(4));
            return pa.built;
        }
        throw bad(what, "unexpected BUILD of a " + describe(obj));
    }

    private Object array(int[] shape, DType dt, Object payload) {
        long n = 1;
        for (int s : shape) n *= s;
        if (dt.code.equals("O8") || dt.code.equals("O4") || dt.code.equals("O")) {
            if (!(payload instanceof List<?> items) || items.size() != n) {
                throw bad(what, "an object array whose items do not match its shape");
            }
            return items;
        }
        if (!(payload instanceof byte[] raw)) throw bad(what, "a numeric array without its bytes");
        int width = switch (dt.code) {
            case "f4" -> 4;
            case "f8" -> 8;
            default -> throw bad(what, "an array of dtype " + dt.code + " (only float32/float64 vectors are expected)");
        };
        if (raw.length != n * width) {
            throw bad(what, "an array of " + n + " values holds " + raw.length + " bytes");
        }
        ByteBuffer buf = ByteBuffer.wrap(raw).order(dt.byteOrder == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[(int) n];
        for (int i = 0; i < n; i++) values[i] = width == 4 ? buf.getFloat() : (float) buf.getDouble();
        return new FloatArray(shape, values);
    }

    private Object scalar(DType dt, byte[] raw) {
        ByteBuffer buf = ByteBuffer.wrap(raw).order(dt.byteOrder == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        return switch (dt.code + ":" + raw.length) {
            case "f4:4" -> (double) buf.getFloat();
            case "f8:8" -> buf.getDouble();
            case "i4:4" -> (long) buf.getInt();
            case "i8:8" -> buf.getLong();
            case "b1:1" -> raw[0] != 0;
            default -> throw bad(what, "a NumPy scalar of dtype " + dt.code + " (" + raw.length + " bytes)");
        };
    }

    private int[] shape(Object o) {
        if (!(o instanceof Tuple t)) throw bad(what, "an array shape that is not a tuple");
        int[] s = new int[t.items().length];
        for (int i = 0; i < s.length; i++) s[i] = ((Long) t.get(i)).intValue();
        return s;
    }

    // --- reading primitives ---

    private void need(int n) {
        if (n < 0 || pos + n > data.length) throw bad(what, "the pickle is cut short at byte " + pos);
    }

    private int u8() {
        need(1);
        return data[pos++] & 0xff;
    }

    private int i32() {
        need(4);
        int v = ByteBuffer.wrap(data, pos, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        pos += 4;
        return v;
    }

    private long long1() {
        int n = u8();
        need(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | (data[pos + i] & 0xff);
        if (n > 0 && n < 8 && (data[pos + n - 1] & 0x80) != 0) v -= 1L << (8 * n); // two's complement
        pos += n;
        return v;
    }

    private String text(int n) {
        need(n);
        String s = new String(data, pos, n, StandardCharsets.UTF_8);
        pos += n;
        return s;
    }

    private byte[] bytes(int n) {
        need(n);
        byte[] b = java.util.Arrays.copyOfRange(data, pos, pos + n);
        pos += n;
        return b;
    }

    private String line() {
        int end = pos;
        while (end < data.length && data[end] != '\n') end++;
        if (end >= data.length) throw bad(what, "the pickle is cut short in a GLOBAL name");
        String s = new String(data, pos, end - pos, StandardCharsets.UTF_8);
        pos = end + 1;
        return s;
    }

    private Object pop(List<Object> stack) {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) throw bad(what, "the pickle's stack is broken at byte " + pos);
        return stack.remove(stack.size() - 1);
    }

    private Object peek(List<Object> stack) {
        if (stack.isEmpty()) throw bad(what, "the pickle's stack is broken at byte " + pos);
        return stack.get(stack.size() - 1);
    }

    private List<Object> popToMark(List<Object> stack) {
        int m = stack.lastIndexOf(MARK);
        if (m < 0) throw bad(what, "the pickle's stack has no MARK at byte " + pos);
        List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    private Object fromMemo(Map<Integer, Object> memo, int i) {
        if (!memo.containsKey(i)) throw bad(what, "the pickle refers to memo " + i + " before setting it");
        Object o = memo.get(i);
        // An array is memoised before BUILD fills it in; later references see the finished array.
        return o instanceof PendingArray pa && pa.built != null ? pa.built : o;
    }

    @SuppressWarnings("unchecked")
    private List<Object> asList(Object o) {
        if (o instanceof List<?> l) return (List<Object>) l;
        throw bad(what, "APPENDS on a " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> asDict(Object o) {
        if (o instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw bad(what, "SETITEMS on a " + describe(o));
    }

    private String key(Object k) {
        if (k instanceof String s) return s;
        throw bad(what, "a dict key that is a " + describe(k) + ", not text");
    }

    private static String describe(Object o) {
        return o == null ? "None" : o.getClass().getSimpleName();
    }

    private static KitException bad(String what, String detail) {
        return new KitException(what + " is not a readable legacy embeddings file: " + detail,
                "restore it from a backup of data/ or from the machine that ran the earlier pipeline; the kit never rewrites this file");
    }
}
