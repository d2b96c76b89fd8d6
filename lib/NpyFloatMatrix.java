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
     * Reads a matrix that must be {@code expectRows} × {@code expectDims}, one array per row. A
     * missing file is {@link java.nio.file.NoSuchFileException}.
     */
    public static float[][] readRows(Path file, int expectRows, int expectDims) throws IOException {
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
            float[][] out = new float[rows][];
            if (rows == 0) return out;
            // A megabyte at a time, straight from the file into a direct buffer and from there into the rows:
            // a whole-file heap buffer would be copied three times over (tens of megabytes at archive scale).
            int rowBytes = dims * 4;
            ByteBuffer chunk = ByteBuffer.allocateDirect(Math.max(1, (1 << 20) / rowBytes) * rowBytes).order(ByteOrder.LITTLE_ENDIAN);
            for (int r = 0; r < rows; ) {
                chunk.clear().limit((int) Math.min(chunk.capacity(), (long) (rows - r) * rowBytes));
                while (chunk.hasRemaining()) {
                    if (ch.read(chunk) < 0) throw new Malformed("is cut short for " + rows + " faces");
                }
                chunk.flip();
                java.nio.FloatBuffer values = chunk.asFloatBuffer();
                for (int n = chunk.limit() / rowBytes; n > 0; n--) {
                    float[] row = new float[dims];
                    values.get(row);
                    out[r++] = row;
                }
            }
            return out;
        }
    }
}
