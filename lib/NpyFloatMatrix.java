import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The one NumPy file layout the embedding store writes: a NumPy 1.0 {@code .npy} holding a
 * little-endian float32 matrix in C order (rows × dims), so {@code np.load} reads it without
 * pickle. Only that layout is read back; anything else is {@link Malformed}.
 */
public final class NpyFloatMatrix {
    private NpyFloatMatrix() {}

    /** The file is not the matrix expected; the detail says how (the caller names the file and the fix). */
    public static final class Malformed extends RuntimeException {
        public Malformed(String detail) {
            super(detail);
        }
    }

    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\((\\d+),\\s*(\\d+)\\)");

    /** The bytes of a .npy file holding {@code rows} (each {@code dims} floats long). */
    public static byte[] encode(List<float[]> rows, int dims) {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + rows.size() + ", " + dims + "), }";
        int unpadded = 10 + dict.length() + 1;
        int total = (unpadded + 63) / 64 * 64; // NumPy aligns the data to 64 bytes
        String header = dict + " ".repeat(total - unpadded) + "\n";
        ByteBuffer buf = ByteBuffer.allocate(total + rows.size() * dims * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        buf.putShort((short) header.length());
        buf.put(header.getBytes(StandardCharsets.US_ASCII));
        for (float[] row : rows) {
            if (row.length != dims) throw new IllegalArgumentException("a row of " + row.length + " values in a matrix of " + dims);
            for (float v : row) buf.putFloat(v);
        }
        return buf.array();
    }

    /**
     * Reads a matrix that must be {@code expectRows} × {@code expectDims} into one contiguous
     * array, row after row. A missing file is {@link java.nio.file.NoSuchFileException}.
     */
    public static float[] read(Path file, int expectRows, int expectDims) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer head = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
            while (head.hasRemaining() && ch.read(head) >= 0) { }
            head.flip();
            if (head.remaining() < 10 || (head.get(0) & 0xff) != 0x93 || head.get(6) != 1) {
                throw new Malformed("not a NumPy 1.0 .npy file");
            }
            int hlen = head.getShort(8) & 0xffff;
            ByteBuffer hb = ByteBuffer.allocate(hlen);
            while (hb.hasRemaining() && ch.read(hb) >= 0) { }
            String header = new String(hb.array(), StandardCharsets.ISO_8859_1);
            java.util.regex.Matcher m = SHAPE.matcher(header);
            if (!header.contains("'<f4'") || header.contains("'fortran_order': True") || !m.find()) {
                throw new Malformed("expected a little-endian float32 C-order matrix, header is " + header.strip());
            }
            int rows = Integer.parseInt(m.group(1)), dims = Integer.parseInt(m.group(2));
            if (rows != expectRows || dims != expectDims) {
                throw new Malformed("holds " + rows + "×" + dims + " values, the manifest says " + expectRows + "×" + expectDims);
            }
            long bytes = (long) rows * dims * 4;
            if (ch.size() - 10 - hlen != bytes) throw new Malformed("is cut short or too long for " + rows + " faces");
            ByteBuffer data = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
            while (data.hasRemaining() && ch.read(data) >= 0) { }
            data.flip();
            float[] out = new float[rows * dims];
            data.asFloatBuffer().get(out);
            return out;
        }
    }
}
