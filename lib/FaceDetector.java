//DEPS com.microsoft.onnxruntime:onnxruntime:1.29.0
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Finds faces in a photo, with one of two model families:
 *
 * <p><b>UltraFace</b> (fr_detect, fixed 320x240 input, boxes already decoded): one input of
 * 320x240 sees faces down to ~20 px only, so the photo is looked at on a pyramid: the whole
 * photo fitted into 320x240, then finer levels (at most 2.5x apart) cut into 320x240 tiles
 * overlapping by 96 px, and the finest level (faces of {@link #minFace} px, native pixels at
 * most) only in windows around the weak small boxes of the coarser levels. A box cut by an
 * inner tile edge is dropped (the neighbouring tile holds it whole), and so is a box larger
 * than the overlap on a fine level (a coarser level holds it whole). One NMS over everything.
 * Score threshold 0.9 (spec/face-models.md); then a second look at doubtful boxes drops animal
 * faces ({@link #plausible}). Pre-processing is OpenCV's reference exactly (RGB, (x-127)/128,
 * mid-grey padding): the same 320x240 input gives the same scores as cv2.dnn to 4 decimals.
 *
 * <p><b>SCRFD</b> (InsightFace det_10g / det_500m): one 640x640 letterboxed pass; per stride
 * 8/16/32 the outputs are scores, box distances and 5 keypoints relative to 2 anchors per cell.
 */
public final class FaceDetector {
    /** A face: box x1,y1,x2,y2 and, for SCRFD, 5 keypoints x,y (both in original pixels). */
    public record Face(float[] box, float score, float[] kps) {
        public float width() {
            return box[2] - box[0];
        }

        /**
         * A face under LOW_QUALITY_PX wide: found and worth showing for review, but too few pixels
         * for an embedding to be trusted as a match (the archive stores it flagged and the matcher
         * never proposes it; a person can still name it).
         */
        public boolean lowQuality() {
            return width() < LOW_QUALITY_PX;
        }

        public float height() {
            return box[3] - box[1];
        }
    }

    /** Faces narrower than this (photo pixels) are {@link Face#lowQuality()}. */
    public static final float LOW_QUALITY_PX = FaceQuality.LOW_QUALITY_PX;

    static final int UF_W = 320, UF_H = 240, OVERLAP = 96;
    static final double LEVEL_STEP = 2.5, NMS_IOU = 0.4;
    static final int SCRFD_SIZE = 640;

    private final OrtSession session;
    private final String family;
    private final double scoreThreshold;
    private final String inputName;

    public FaceDetector(OrtSession session, String family, double scoreThreshold) {
        this.session = session;
        this.family = family;
        boolean scrfd = ModelCatalog.FAMILY_SCRFD.equals(family);
        this.scoreThreshold = scoreThreshold > 0 ? scoreThreshold : scrfd ? 0.5 : 0.9;
        this.inputName = session.getInputNames().iterator().next();
        if (!scrfd && !ModelCatalog.FAMILY_ULTRAFACE.equals(family)) {
            throw new KitException("unknown detector family '" + family + "' in models.json", "use an ultraface or scrfd detector");
        }
    }

    public String family() {
        return family;
    }

    public List<Face> detect(Photos.Image img) {
        try {
            if (ModelCatalog.FAMILY_SCRFD.equals(family)) return detectScrfd(img);
            List<Face> faces = detectUltraFace(img);
            SecondLook look = secondLook;
            if (look == null) return faces;
            List<Face> kept = new ArrayList<>();
            for (Face f : faces) if (plausible(f, look, img)) kept.add(f);
            return kept;
        } catch (OrtException e) {
            throw new KitException("the face detector failed: " + e.getMessage(), "run ./jbang fetch-models --force; if it persists, report it");
        }
    }

    // ---------------------------------------------------------------- the second look

    /** The raw (not normalised) embedding norm of a detected face: how face-like the recognizer finds it. */
    public interface SecondLook {
        double norm(Photos.Image img, Face face);
    }

    private volatile SecondLook secondLook;

    /** Doubtful UltraFace boxes are kept only when the recognizer finds them face-like (FaceModels installs it). */
    public FaceDetector secondLook(SecondLook look) {
        this.secondLook = look;
        return this;
    }

    /**
     * Animal faces pass fr_detect's 0.9 in OpenCV as in the kit (the same scores: 0.961 for
     * skimage's cat "chelsea" both ways), and on dlib's dogs.jpg turned sideways — which ingest
     * tries when a photo shows no upright face — dog faces score 0.94-0.997. Measured
     * (bench/face_check.java) on 11 animal boxes and on every face of ../shared/eval and of the
     * 20-90 px mosaics:
     * <ul>
     *   <li>faces >= 40 px wide: every real one scored >= 0.9945 (most >= 0.9996); animals
     *       0.90-0.98, and one dog 0.997 with an embedding norm of 1.59 where real faces have
     *       >= 2.42 (most >= 3), and no animal box above 2.59. So: >= 0.9995 kept; 0.99-0.9995
     *       kept with a norm >= 2.0; under 0.99 (a blurred scan's face may score that) kept with
     *       a norm >= 2.8;</li>
     *   <li>smaller faces: real ones score down to 0.915; those under 0.95 have norms >= 2.24
     *       (1.90 is the lowest of all, at 0.983); the small animal boxes score 0.904-0.910 with
     *       norms 1.68-2.00: kept at >= 0.95, or with a norm >= 2.12.</li>
     * </ul>
     * The norm costs one embedding, so it is computed only for the few doubtful boxes.
     */
    static final float LARGE_PX = 40, LARGE_MIN_SCORE = 0.99f, LARGE_SURE_SCORE = 0.9995f, SMALL_SURE_SCORE = 0.95f;
    static final double MIN_NORM = 2.0, WEAK_LARGE_MIN_NORM = 2.8, SMALL_MIN_NORM = 2.12;

    static boolean plausible(Face f, SecondLook look, Photos.Image img) {
        if (f.width() >= LARGE_PX) {
            if (f.score() >= LARGE_SURE_SCORE) return true;
            return look.norm(img, f) >= (f.score() >= LARGE_MIN_SCORE ? MIN_NORM : WEAK_LARGE_MIN_NORM);
        }
        return f.score() >= SMALL_SURE_SCORE || look.norm(img, f) >= SMALL_MIN_NORM;
    }

    // ---------------------------------------------------------------- UltraFace pyramid + tiles

    /** The pyramid's scales: the whole photo in one input, then up to native pixels, at most 2.5x apart. */
    static List<Double> levels(int w, int h) {
        return levels(w, h, 1.0);
    }

    /** Same, with the finest level at {@code finest} (<= 1): faces smaller than ~20/finest px are not looked for. */
    static List<Double> levels(int w, int h, double finest) {
        List<Double> out = new ArrayList<>();
        double s0 = Math.min((double) UF_W / w, (double) UF_H / h);
        out.add(s0);
        if (s0 >= finest) return out;
        int steps = (int) Math.ceil(Math.log(finest / s0) / Math.log(LEVEL_STEP) - 1e-9);
        double ratio = Math.pow(finest / s0, 1.0 / steps);  // equal steps, none above 2.5x
        for (int i = 1; i <= steps; i++) out.add(Math.min(finest, s0 * Math.pow(ratio, i)));
        return out;
    }

    /**
     * The finest level is DETECTABLE_PX / min face (at most native pixels): the model finds faces
     * of ~20 px reliably. The default looks for faces down to 20 px: on mosaics of the eval faces
     * at 20-90 px (bench/small_faces.java) it finds 193 of 193 where the earlier default of 32 px
     * found 188, for the same CPU time per photo on eval/group-photos (the finest level is only
     * looked at around hints, see GUIDE_RATIO). Faces under LOW_QUALITY_PX are flagged.
     */
    public static final double DETECTABLE_PX = 20;
    public static final double DEFAULT_MIN_FACE = 20;
    private volatile double minFacePixels = DEFAULT_MIN_FACE;

    /**
     * Faces smaller than this (in the photo's pixels) are not looked for; the finest pyramid
     * level is then coarser than native pixels, which saves most of the tiles on large photos.
     */
    public FaceDetector minFace(double pixels) {
        this.minFacePixels = Math.max(1, pixels);
        return this;
    }

    /** One 320x240 window of one pyramid level. */
    record Tile(Photos.Image level, double scale, int x0, int y0, boolean whole) {}

    /** A box a tile gave, in photo pixels, with its height on the tile's level (the size the model saw). */
    record Raw(Face face, float levelHeight) {}

    /**
     * The finest level is looked at only around hints. The coarse pyramid ends at GUIDE_RATIO x the
     * finest level: there a face of 20-29 px is 12-18 px, which the model still sees but often
     * scores 0.5-0.9 (measured on the eval mosaics: the 5 faces the coarse pyramid missed scored
     * 0.85-0.90). Such a weak, small box is a hint: the finest level is run on one 320x240 window
     * around it, and only the boxes it confirms (>= the score threshold) count. Clear faces and
     * empty regions cost no finest-level tile, which is most of a photo.
     */
    static final double GUIDE_RATIO = 0.625, HINT_SCORE = 0.5, HINT_MAX_PX = 40;
    /** A hint this far (px of the finest level) inside a window already planned needs no window of its own. */
    static final int WINDOW_MARGIN = 40;

    List<Face> detectUltraFace(Photos.Image img) throws OrtException {
        double finest = Math.min(1.0, DETECTABLE_PX / minFacePixels);
        List<Double> scales = levels(img.width, img.height, Math.max(finest * GUIDE_RATIO, 1e-9));
        List<Tile> tiles = new ArrayList<>();
        for (int li = 0; li < scales.size(); li++) {
            double s = scales.get(li);
            Photos.Image level = scaled(img, s);
            if (li == 0) {
                tiles.add(new Tile(level, s, 0, 0, true));
                continue;
            }
            for (int y : starts(level.height, UF_H)) for (int x : starts(level.width, UF_W)) tiles.add(new Tile(level, s, x, y, false));
        }
        double coarsest = scales.get(scales.size() - 1);
        List<Raw> raw = runAll(tiles, coarsest < finest ? Math.min(HINT_SCORE, scoreThreshold) : scoreThreshold);
        List<Face> found = new ArrayList<>();
        List<Raw> hints = new ArrayList<>();
        for (Raw r : raw) {
            if (r.face().score >= scoreThreshold) found.add(r.face());
            else if (r.levelHeight() <= HINT_MAX_PX) hints.add(r);
        }
        if (coarsest < finest && !hints.isEmpty()) {
            List<Face> sure = nms(new ArrayList<>(found), NMS_IOU);
            Photos.Image level = scaled(img, finest);
            List<Tile> windows = new ArrayList<>();
            hints.sort(Comparator.comparingDouble((Raw r) -> -r.face().score));
            for (Raw h : hints) {
                float[] b = h.face().box;
                if (sure.stream().anyMatch(f -> iou(f.box, b) > 0.3 || insideShare(f.box, b) > 0.6)) continue;
                int cx = (int) Math.round((b[0] + b[2]) / 2 * finest), cy = (int) Math.round((b[1] + b[3]) / 2 * finest);
                boolean covered = windows.stream().anyMatch(t -> cx - t.x0 >= WINDOW_MARGIN && t.x0 + UF_W - cx >= WINDOW_MARGIN
                        && cy - t.y0 >= WINDOW_MARGIN && t.y0 + UF_H - cy >= WINDOW_MARGIN);
                if (covered) continue;
                int x0 = Math.max(0, Math.min(cx - UF_W / 2, level.width - UF_W)), y0 = Math.max(0, Math.min(cy - UF_H / 2, level.height - UF_H));
                windows.add(new Tile(level, finest, x0, y0, false));
            }
            for (Raw r : runAll(windows, scoreThreshold)) found.add(r.face());
        }
        return nms(found, NMS_IOU);
    }

    private static Photos.Image scaled(Photos.Image img, double s) {
        int w = Math.max(1, (int) Math.round(img.width * s)), h = Math.max(1, (int) Math.round(img.height * s));
        return Photos.resize(img, w, h);
    }

    /** Runs the tiles on both cores (sessions are thread-safe); every box scoring >= {@code threshold}. */
    private List<Raw> runAll(List<Tile> tiles, double threshold) {
        List<Raw> found = java.util.Collections.synchronizedList(new ArrayList<>());
        RuntimeException[] failure = new RuntimeException[1];
        IntStream.range(0, tiles.size()).parallel().forEach(i -> {
            try {
                found.addAll(runTile(tiles.get(i), threshold));
            } catch (OrtException e) {
                failure[0] = new KitException("the face detector failed: " + e.getMessage(), "run ./jbang fetch-models --force");
            }
        });
        if (failure[0] != null) throw failure[0];
        return new ArrayList<>(found);
    }

    /** Tile origins covering [0, size) with windows of {@code win} overlapping by at least OVERLAP. */
    static int[] starts(int size, int win) {
        if (size <= win) return new int[] {0};
        int stride = win - OVERLAP;
        int n = (int) Math.ceil((double) (size - win) / stride) + 1;
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = Math.min(i * stride, size - win);
        return out;
    }

    private List<Raw> runTile(Tile t, double threshold) throws OrtException {
        float[] input = new float[3 * UF_H * UF_W];  // zeros = the padding value after (x-127)/128 ~ mid grey
        Photos.Image l = t.level;
        int plane = UF_H * UF_W;
        int w = Math.min(UF_W, l.width - t.x0), h = Math.min(UF_H, l.height - t.y0);
        for (int y = 0; y < h; y++) {
            int si = ((t.y0 + y) * l.width + t.x0) * 3;
            int oi = y * UF_W;
            for (int x = 0; x < w; x++, si += 3, oi++) {
                input[oi] = ((l.bgr[si + 2] & 0xff) - 127f) / 128f;              // R
                input[plane + oi] = ((l.bgr[si + 1] & 0xff) - 127f) / 128f;      // G
                input[2 * plane + oi] = ((l.bgr[si] & 0xff) - 127f) / 128f;      // B
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<Raw> out = new ArrayList<>();
        try (OnnxTensor tensor = OnnxTensor.createTensor(env, FloatBuffer.wrap(input), new long[] {1, 3, UF_H, UF_W});
             OrtSession.Result r = session.run(Map.of(inputName, tensor))) {
            // Flat buffers, not getValue()'s 4420 small arrays per output: less to allocate, and
            // less cold code for a short run to interpret before the JIT gets to it.
            FloatBuffer scores = ((OnnxTensor) r.get("scores").orElseThrow()).getFloatBuffer();
            FloatBuffer boxes = ((OnnxTensor) r.get("boxes").orElseThrow()).getFloatBuffer();
            int n = scores.remaining() / 2;
            for (int i = 0; i < n; i++) {
                float score = scores.get(2 * i + 1);
                if (score < threshold) continue;
                int b = 4 * i;
                float bx1 = boxes.get(b) * UF_W, by1 = boxes.get(b + 1) * UF_H, bx2 = boxes.get(b + 2) * UF_W, by2 = boxes.get(b + 3) * UF_H;
                if (!t.whole) {
                    // Cut by an inner edge of this tile: a neighbour holds the face whole.
                    boolean innerL = t.x0 > 0, innerT = t.y0 > 0;
                    boolean innerR = t.x0 + UF_W < l.width, innerB = t.y0 + UF_H < l.height;
                    if ((innerL && bx1 < 2) || (innerT && by1 < 2) || (innerR && bx2 > UF_W - 2) || (innerB && by2 > UF_H - 2)) continue;
                    // Bigger than the overlap: may be cut anywhere; a coarser level sees it whole.
                    if (bx2 - bx1 > OVERLAP || by2 - by1 > OVERLAP) continue;
                }
                float inv = (float) (1 / t.scale);
                float[] box = {
                        clamp((bx1 + t.x0) * inv, 0, l.width * inv), clamp((by1 + t.y0) * inv, 0, l.height * inv),
                        clamp((bx2 + t.x0) * inv, 0, l.width * inv), clamp((by2 + t.y0) * inv, 0, l.height * inv)};
                if (box[2] - box[0] < 4 || box[3] - box[1] < 4) continue;
                out.add(new Raw(new Face(box, score, null), by2 - by1));
            }
        }
        return out;
    }

    private static float clamp(float v, float lo, float hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    // ---------------------------------------------------------------- SCRFD

    List<Face> detectScrfd(Photos.Image img) throws OrtException {
        int inW = SCRFD_SIZE, inH = SCRFD_SIZE;
        NodeInfo in = session.getInputInfo().get(inputName);
        if (in.getInfo() instanceof TensorInfo ti && ti.getShape().length == 4 && ti.getShape()[2] > 0 && ti.getShape()[3] > 0) {
            inH = (int) ti.getShape()[2];
            inW = (int) ti.getShape()[3];
        }
        double s = Math.min((double) inW / img.width, (double) inH / img.height);
        int rw = Math.max(1, (int) Math.round(img.width * s)), rh = Math.max(1, (int) Math.round(img.height * s));
        Photos.Image r = Photos.resize(img, rw, rh);
        float[] input = new float[3 * inW * inH];
        int plane = inW * inH;
        for (int y = 0; y < rh; y++) {
            for (int x = 0; x < rw; x++) {
                int si = (y * rw + x) * 3, oi = y * inW + x;
                input[oi] = ((r.bgr[si + 2] & 0xff) - 127.5f) / 128f;
                input[plane + oi] = ((r.bgr[si + 1] & 0xff) - 127.5f) / 128f;
                input[2 * plane + oi] = ((r.bgr[si] & 0xff) - 127.5f) / 128f;
            }
        }
        List<Output> outs = new ArrayList<>();
        try (OnnxTensor tensor = OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), FloatBuffer.wrap(input), new long[] {1, 3, inH, inW});
             OrtSession.Result res = session.run(Map.of(inputName, tensor))) {
            for (var e : res) {
                OnnxTensor t = (OnnxTensor) e.getValue();
                FloatBuffer fb = t.getFloatBuffer();
                float[] a = new float[fb.remaining()];
                fb.get(a);
                long[] shape = t.getInfo().getShape();
                outs.add(new Output(a, shape.length == 0 ? 1 : shape[shape.length - 1]));
            }
        }
        List<Face> faces = decodeScrfd(outs, inW, inH, scoreThreshold);
        float inv = (float) (1 / s);
        List<Face> scaled = new ArrayList<>();
        for (Face f : faces) {
            float[] b = f.box.clone(), k = f.kps.clone();
            for (int i = 0; i < 4; i++) b[i] = clamp(b[i] * inv, 0, i % 2 == 0 ? img.width : img.height);
            for (int i = 0; i < 10; i++) k[i] *= inv;
            scaled.add(new Face(b, f.score, k));
        }
        return nms(scaled, NMS_IOU);
    }

    /** One raw output: its values and the size of its last dimension (1 score, 4 box or 10 keypoint values). */
    record Output(float[] data, long lastDim) {}

    /**
     * Decodes SCRFD's raw outputs (any order): each output is recognised by its last dimension
     * (its kind) and its length (cells x 2 anchors gives its stride).
     */
    static List<Face> decodeScrfd(List<Output> outputs, int inW, int inH, double threshold) {
        int[] strides = {8, 16, 32};
        List<Face> faces = new ArrayList<>();
        for (int stride : strides) {
            int fw = (inW + stride - 1) / stride, fh = (inH + stride - 1) / stride;
            int n = fw * fh * 2;
            float[] sc = null, bb = null, kp = null;
            for (Output o : outputs) {
                if (o.lastDim() == 1 && o.data().length == n && sc == null) sc = o.data();
                else if (o.lastDim() == 4 && o.data().length == n * 4 && bb == null) bb = o.data();
                else if (o.lastDim() == 10 && o.data().length == n * 10 && kp == null) kp = o.data();
            }
            if (sc == null || bb == null) {
                throw new KitException("the SCRFD detector's outputs do not match its input size " + inW + "x" + inH + " at stride " + stride,
                        "use an SCRFD model exported with 3 strides and 2 anchors per cell (InsightFace det_10g / det_500m)");
            }
            for (int i = 0; i < n; i++) {
                if (sc[i] < threshold) continue;
                int cell = i / 2;
                float cx = (cell % fw) * stride, cy = (cell / fw) * stride;
                float[] box = {cx - bb[i * 4] * stride, cy - bb[i * 4 + 1] * stride, cx + bb[i * 4 + 2] * stride, cy + bb[i * 4 + 3] * stride};
                float[] k = new float[10];
                if (kp != null) {
                    for (int j = 0; j < 5; j++) {
                        k[2 * j] = cx + kp[i * 10 + 2 * j] * stride;
                        k[2 * j + 1] = cy + kp[i * 10 + 2 * j + 1] * stride;
                    }
                }
                faces.add(new Face(box, sc[i], kp == null ? null : k));
            }
        }
        return faces;
    }

    // ---------------------------------------------------------------- shared

    static double iou(float[] a, float[] b) {
        double ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
        double iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
        double inter = ix * iy;
        double union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
        return union <= 0 ? 0 : inter / union;
    }

    /** The share of the smaller box's area that lies inside the other. */
    static double insideShare(float[] a, float[] b) {
        double ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
        double iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
        double smaller = Math.min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]));
        return smaller <= 0 ? 0 : ix * iy / smaller;
    }

    /**
     * Greedy non-maximum suppression, best score first; the result is in descending score order.
     * Besides overlap (IoU), a box lying mostly inside a better one is dropped: across pyramid
     * levels a fine tile may see half a face (a mouth, a chin) that the coarse level saw whole.
     */
    static List<Face> nms(List<Face> faces, double iouThreshold) {
        faces.sort(Comparator.comparingDouble((Face f) -> -f.score));
        List<Face> keep = new ArrayList<>();
        for (Face f : faces) {
            boolean overlaps = false;
            for (Face k : keep) {
                if (iou(f.box, k.box) > iouThreshold || insideShare(f.box, k.box) > 0.6) {
                    overlaps = true;
                    break;
                }
            }
            if (!overlaps) keep.add(f);
        }
        return keep;
    }

    /** Faces left to right (then top to bottom), so that face indices, hence face ids, are stable. */
    public static List<Face> readingOrder(List<Face> faces) {
        List<Face> out = new ArrayList<>(faces);
        out.sort(Comparator.comparingDouble((Face f) -> f.box[0]).thenComparingDouble(f -> f.box[1]));
        return out;
    }
}
