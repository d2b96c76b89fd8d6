import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where a face's pictures are on this computer, for the review: its crop
 * ({@code <crops>/<face_id>.jpg}) and its photo ({@code <photos>/<basename>}, found through
 * photo_index.json's face_to_photo, else the embedding store's file name), and the photo shrunk
 * with that face framed. A picture that is missing or unreadable is a grey placeholder, never an
 * error: a review never breaks on one bad file.
 */
public final class ReviewFaces {
    static final int PHOTO_SIDE = 720;

    private final Layout layout;
    private final Map<String, String> faceToPhoto;
    private final ObjectNode photoIndex;
    private final EmbeddingStore store;
    private final Map<String, byte[]> thumbs = new ConcurrentHashMap<>();

    /** {@code store} may be null (no embeddings readable): photos are then shown without the face's box. */
    public ReviewFaces(Layout layout, ObjectNode photoIndex, EmbeddingStore store) {
        this.layout = layout;
        this.photoIndex = photoIndex;
        this.faceToPhoto = Identities.faceToPhoto(photoIndex);
        this.store = store;
    }

    /** The embedding store of {@code dataDir}, or null when it cannot be read (the review goes on without face boxes). */
    public static EmbeddingStore storeOrNull(Path dataDir) {
        try {
            return EmbeddingStore.open(dataDir);
        } catch (RuntimeException e) {
            return null;
        }
    }

    public Path cropFile(String faceId) {
        return layout.crops().resolve(faceId + ".jpg");
    }

    public boolean hasCrop(String faceId) {
        return safeName(faceId) && Files.isRegularFile(cropFile(faceId));
    }

    /** The photo file the face was found in, or null when unknown. It may be absent from disk. */
    public Path photoFile(String faceId) {
        String pid = faceToPhoto.get(faceId);
        String path = pid == null ? null : photoIndex.path("photos").path(pid).path("path").asText(null);
        if ((path == null || path.isEmpty()) && store != null) {
            EmbeddingStore.Face f = store.get(faceId);
            path = f == null ? null : f.filename();
        }
        if (path == null || path.isBlank()) return null;
        String base = Names.basename(path);
        if (base.isEmpty() || base.equals(".") || base.equals("..")) return null;
        return layout.photos().resolve(base);
    }

    public boolean hasPhoto(String faceId) {
        Path p = photoFile(faceId);
        return p != null && Files.isRegularFile(p);
    }

    /** A face id that names a file directly under the crops folder, nothing above it. */
    static boolean safeName(String faceId) {
        return !faceId.isEmpty() && !faceId.contains("/") && !faceId.contains("\\") && !faceId.equals(".") && !faceId.equals("..")
                && faceId.chars().noneMatch(c -> c < 0x20);
    }

    /** A picture to send: its bytes and content type. */
    public record Picture(byte[] bytes, String contentType) {}

    public Picture crop(String faceId) {
        if (hasCrop(faceId)) {
            try {
                return new Picture(Files.readAllBytes(cropFile(faceId)), "image/jpeg");
            } catch (IOException ignored) {
                // shown as a placeholder below
            }
        }
        return placeholder("no crop", 112);
    }

    /** The photo shrunk to PHOTO_SIDE with this face framed in yellow; made once per face. */
    public Picture photo(String faceId) {
        byte[] b = thumbs.computeIfAbsent(faceId, this::thumbnail);
        return b.length == 0 ? placeholder("no photo", 200) : new Picture(b, "image/jpeg");
    }

    private byte[] thumbnail(String faceId) {
        Path file = photoFile(faceId);
        if (file == null || !Files.isRegularFile(file)) return new byte[0];
        try {
            Photos.Image img = Photos.decode(file).image();
            double s = Math.min(1.0, (double) PHOTO_SIDE / Math.max(img.width, img.height));
            int w = Math.max(1, (int) Math.round(img.width * s)), h = Math.max(1, (int) Math.round(img.height * s));
            BufferedImage out = Photos.toBufferedImage(Photos.resize(img, w, h));
            EmbeddingStore.Face f = store == null ? null : store.get(faceId);
            float[] box = f == null ? null : f.bbox();
            if (box != null && box.length == 4) {
                Graphics2D g = out.createGraphics();
                g.setStroke(new BasicStroke(3));
                g.setColor(new Color(255, 212, 0));
                g.drawRect((int) Math.round(box[0] * s), (int) Math.round(box[1] * s),
                        (int) Math.round((box[2] - box[0]) * s), (int) Math.round((box[3] - box[1]) * s));
                g.dispose();
            }
            return Photos.encodeJpeg(out, 0.75f);   // ImageIO's default quality
        } catch (RuntimeException e) {
            return new byte[0];
        }
    }

    /** A grey box saying what is missing: an image that always loads. */
    static Picture placeholder(String text, int side) {
        String svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + side + "' height='" + side + "'>"
                + "<rect width='100%' height='100%' fill='#e4e4e4' stroke='#aaa' stroke-dasharray='4'/>"
                + "<text x='50%' y='50%' font-family='sans-serif' font-size='13' fill='#666' text-anchor='middle'>" + text + "</text></svg>";
        return new Picture(svg.getBytes(StandardCharsets.UTF_8), "image/svg+xml");
    }
}
