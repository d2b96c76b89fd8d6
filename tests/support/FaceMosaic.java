import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Mosaics of small faces made from ../shared/eval at test or benchmark time (never stored in the
 * repository): every face of eval/detection (its labelled boxes) and of eval/group-photos (the
 * detector's boxes at native pixels) is cut out with some context and pasted, scaled so that
 * the face's box is {@code size} px wide, onto 2400x1800 grey canvases — the size of a scanned
 * heritage group photo. Sizes spread evenly on a log scale over [minPx, maxPx], so a third of
 * the faces are under 30 px.
 */
public final class FaceMosaic {
    /** A mosaic: the picture and the boxes (x1,y1,x2,y2) of the faces pasted into it, with their size. */
    public record Mosaic(Photos.Image image, List<float[]> boxes, List<Integer> sizes) {}

    /** One face in a source photo. */
    record Source(Photos.Image photo, float[] box) {}

    public static final int CANVAS_W = 2400, CANVAS_H = 1800;
    static final double CONTEXT = 2.2;   // cell side, in face-box widths
    static final int GAP = 6;

    private FaceMosaic() {}

    /** {@code count} faces of minPx..maxPx (box width) from {@code eval}, on as many canvases as they need. */
    public static List<Mosaic> make(Path eval, FaceDetector nativeDetector, int count, int minPx, int maxPx) throws Exception {
        List<Source> sources = sources(eval, nativeDetector);
        List<Mosaic> out = new ArrayList<>();
        Photos.Image canvas = grey();
        List<float[]> boxes = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        int x = GAP, y = GAP, rowH = 0;
        for (int k = 0; k < count; k++) {
            Source s = sources.get(k % sources.size());
            // Sizes spread over the range in a scrambled order, so each canvas holds small and large faces.
            double frac = ((k * 37L) % count) / (double) Math.max(1, count - 1);
            int size = (int) Math.round(minPx * Math.pow((double) maxPx / minPx, frac));
            float bw = s.box[2] - s.box[0];
            double scale = size / (double) bw;
            int cell = (int) Math.ceil(CONTEXT * size * Math.max(1, (s.box[3] - s.box[1]) / bw));
            if (x + cell + GAP > CANVAS_W) {
                x = GAP;
                y += rowH + GAP;
                rowH = 0;
            }
            if (y + cell + GAP > CANVAS_H) {
                out.add(new Mosaic(canvas, boxes, sizes));
                canvas = grey();
                boxes = new ArrayList<>();
                sizes = new ArrayList<>();
                x = GAP;
                y = GAP;
                rowH = 0;
            }
            float cx = (s.box[0] + s.box[2]) / 2, cy = (s.box[1] + s.box[3]) / 2;
            double half = cell / scale / 2;
            // The cell is the source around the face, scaled: each output pixel samples the source.
            for (int j = 0; j < cell; j++) {
                for (int i = 0; i < cell; i++) {
                    double sx = cx - half + (i + 0.5) / scale, sy = cy - half + (j + 0.5) / scale;
                    int px = (int) Math.floor(sx), py = (int) Math.floor(sy);
                    if (px < 0 || py < 0 || px >= s.photo.width || py >= s.photo.height) continue;
                    int o = ((y + j) * CANVAS_W + x + i) * 3;
                    for (int c = 0; c < 3; c++) canvas.bgr[o + c] = (byte) area(s.photo, sx, sy, 1 / scale, c);
                }
            }
            float ox = (float) (x + cell / 2.0), oy = (float) (y + cell / 2.0);
            boxes.add(new float[] {
                    (float) (ox + (s.box[0] - cx) * scale), (float) (oy + (s.box[1] - cy) * scale),
                    (float) (ox + (s.box[2] - cx) * scale), (float) (oy + (s.box[3] - cy) * scale)});
            sizes.add(size);
            x += cell + GAP;
            rowH = Math.max(rowH, cell);
        }
        if (!boxes.isEmpty()) out.add(new Mosaic(canvas, boxes, sizes));
        return out;
    }

    /** The mean of the source pixels under one output pixel (side {@code span} source px): no aliasing when shrinking. */
    static int area(Photos.Image img, double sx, double sy, double span, int c) {
        int r = Math.max(0, (int) Math.floor(span / 2));
        int cx = (int) Math.floor(sx), cy = (int) Math.floor(sy);
        int sum = 0, n = 0;
        for (int y = Math.max(0, cy - r); y <= Math.min(img.height - 1, cy + r); y++) {
            for (int x = Math.max(0, cx - r); x <= Math.min(img.width - 1, cx + r); x++) {
                sum += img.at(x, y, c);
                n++;
            }
        }
        return n == 0 ? 128 : Math.round((float) sum / n);
    }

    static Photos.Image grey() {
        Photos.Image img = new Photos.Image(CANVAS_W, CANVAS_H);
        java.util.Arrays.fill(img.bgr, (byte) 128);
        return img;
    }

    /** The faces to paste: eval/detection's required labelled boxes, then eval/group-photos' faces found at native pixels. */
    static List<Source> sources(Path eval, FaceDetector nativeDetector) throws Exception {
        List<Source> out = new ArrayList<>();
        JsonNode labels = JsonFiles.read(eval.resolve("detection/boxes.json"));
        for (var it = labels.fields(); it.hasNext(); ) {
            var e = it.next();
            Photos.Image img = Photos.decode(eval.resolve("detection").resolve(e.getKey())).image();
            for (JsonNode b : e.getValue()) {
                if (b.path("ignore").asBoolean(false)) continue;
                float x = b.get("x").floatValue(), y = b.get("y").floatValue();
                out.add(new Source(img, new float[] {x, y, x + b.get("w").floatValue(), y + b.get("h").floatValue()}));
            }
        }
        List<Path> group;
        try (Stream<Path> s = Files.list(eval.resolve("group-photos"))) {
            group = s.filter(p -> p.toString().endsWith(".jpg")).sorted().toList();
        }
        for (Path p : group) {
            Photos.Image img = Photos.decode(p).image();
            for (FaceDetector.Face f : FaceDetector.readingOrder(nativeDetector.detect(img))) out.add(new Source(img, f.box()));
        }
        return out;
    }

    /** How many of the mosaic's faces a detection matches (IoU >= 0.3, eval/README.md), and the sizes of those missed. */
    public record Recall(int found, int total, List<Integer> missedSizes, int extra) {}

    public static Recall recall(Mosaic m, List<FaceDetector.Face> found) {
        boolean[] used = new boolean[m.boxes().size()];
        int extra = 0;
        for (FaceDetector.Face f : found) {
            int best = -1;
            double bestIou = 0.3;
            for (int i = 0; i < used.length; i++) {
                double iou = FaceDetector.iou(f.box(), m.boxes().get(i));
                if (!used[i] && iou >= bestIou) {
                    best = i;
                    bestIou = iou;
                }
            }
            if (best >= 0) used[best] = true;
            else extra++;
        }
        List<Integer> missed = new ArrayList<>();
        int n = 0;
        for (int i = 0; i < used.length; i++) {
            if (used[i]) n++;
            else missed.add(m.sizes().get(i));
        }
        return new Recall(n, used.length, missed, extra);
    }
}
