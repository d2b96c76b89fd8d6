import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the kit knows about face models, and models/models.json, the file that says which
 * models are installed, which are active, how each one wants its input, and the distance
 * thresholds calibrated for each embedding model. fetch_models writes it; FaceModels and
 * MatchThresholds read it.
 *
 * <p>Two families of models are supported:
 * <ul>
 *   <li>the default, from the npm package faceplugin-face-recognition-js@0.0.1: an UltraFace
 *       detector (fixed 320x240 input), a 68-point landmark model and a MobileFaceNet-like
 *       ArcFace-style recognizer;</li>
 *   <li>InsightFace's files (SCRFD det_10g / det_500m, ArcFace w600k_r50 / w600k_mbf), taken
 *       from the maintainers' own InsightFace folder by {@code fetch-models --from-insightface}
 *       or copied into models/ by hand: the archive's original embeddings come from w600k_r50,
 *       and SCRFD gives the 5 alignment points itself, so no landmark model.</li>
 * </ul>
 *
 * <p>Each entry of models.json carries what the kit needs to run the model (input name and
 * size, colour order, mean/std, output names, score and NMS thresholds): {@link #conventions}.
 */
public final class ModelCatalog {
    private ModelCatalog() {}

    public static final String FILE = "models.json";

    // The default models, pinned: the npm package and the exact bytes we accept from it.
    public static final String NPM_PACKAGE = "faceplugin-face-recognition-js";
    public static final String NPM_VERSION = "0.0.1";
    /** sha256 of the tarball `npm pack` gives (measured when the kit was written). */
    public static final String NPM_TARBALL_SHA256 = "7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba";
    /** npm's own integrity string of the same tarball, for cross-checking by hand. */
    public static final String NPM_INTEGRITY =
            "sha512-shriXjd4zJHEwhK1jHK+bWo8Vv6Vu9B/w6RRsd4AFtNM/jaI2vhuOamOSMl9qQmLd8WlQ7dgqN+3C2iOi5pXWw==";
    public static final String LICENCE_NOTE = "MIT per the package.json of npm " + NPM_PACKAGE + "@" + NPM_VERSION
            + "; the package does not say where the weights come from or how they were trained";

    public static final String FAMILY_ULTRAFACE = "ultraface";
    public static final String FAMILY_SCRFD = "scrfd";
    public static final String FAMILY_LANDMARK68 = "landmark68";
    public static final String FAMILY_ARCFACE = "arcface";

    /** One model file the kit knows how to use. */
    public record Known(String name, String file, String sha256, String family, String role,
                        String embeddingModel, String source, String licence, long bytes) {
        Known(String name, String file, String sha256, String family, String role, String embeddingModel, String source, String licence) {
            this(name, file, sha256, family, role, embeddingModel, source, licence, 0);
        }
    }

    /** The three default models and their file hashes (inside the pinned tarball). */
    public static final List<Known> DEFAULTS = List.of(
            new Known("fr_detect", "fr_detect.onnx", "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854",
                    FAMILY_ULTRAFACE, "detector", null, npmSource("fr_detect.onnx"), LICENCE_NOTE),
            new Known("fr_landmark", "fr_landmark.onnx", "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258",
                    FAMILY_LANDMARK68, "landmarks", null, npmSource("fr_landmark.onnx"), LICENCE_NOTE),
            new Known("fr_feature", "fr_feature.onnx", "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
                    FAMILY_ARCFACE, "recognizer", "faceplugin-fr_feature-0.0.1", npmSource("fr_feature.onnx"), LICENCE_NOTE));

    public static final String INSIGHTFACE_LICENCE =
            "InsightFace model weights: non-commercial research use only; the archive's maintainers hold their own copy";

    /**
     * InsightFace's model pack buffalo_l (release v0.7, buffalo_l.zip), as InsightFace unpacks it
     * into ~/.insightface/models/buffalo_l/ on the computer that ran the earlier pipeline. The
     * two files the archive was made with are pinned: their SHA-256 and size are those of the
     * release's files (the same bytes every public mirror of buffalo_l serves).
     */
    public static final String BUFFALO_L = "buffalo_l";
    public static final String BUFFALO_L_SOURCE = "InsightFace buffalo_l (release v0.7, buffalo_l.zip)";
    public static final Known DET_10G = new Known("det_10g", "det_10g.onnx",
            "5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91", FAMILY_SCRFD, "detector", null,
            BUFFALO_L_SOURCE, INSIGHTFACE_LICENCE, 16_923_827L);
    public static final Known W600K_R50 = new Known("w600k_r50", "w600k_r50.onnx",
            "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43", FAMILY_ARCFACE, "recognizer", "w600k_r50",
            BUFFALO_L_SOURCE, INSIGHTFACE_LICENCE, 174_383_860L);
    /** What fetch-models --from-insightface takes from a buffalo_l folder: the detector and the recognizer. */
    public static final List<Known> BUFFALO_L_FILES = List.of(DET_10G, W600K_R50);

    /** InsightFace files a maintainer may put in models/ (det_500m and w600k_mbf are not pinned: buffalo_s is not the archive's). */
    public static final List<Known> INSIGHTFACE = List.of(
            DET_10G,
            new Known("det_500m", "det_500m.onnx", null, FAMILY_SCRFD, "detector", null, "InsightFace buffalo_s (copied by a maintainer)", INSIGHTFACE_LICENCE),
            W600K_R50,
            new Known("w600k_mbf", "w600k_mbf.onnx", null, FAMILY_ARCFACE, "recognizer", "w600k_mbf", "InsightFace buffalo_s (copied by a maintainer)", INSIGHTFACE_LICENCE));

    /** The known model named {@code name} (defaults and InsightFace's), or null. */
    public static Known known(String name) {
        for (List<Known> l : List.of(DEFAULTS, INSIGHTFACE)) for (Known k : l) if (k.name().equals(name)) return k;
        return null;
    }

    private static String npmSource(String file) {
        return "npm " + NPM_PACKAGE + "@" + NPM_VERSION + " package/model/" + file;
    }

    /**
     * Matching thresholds per embedding model (distances between L2-normalised embeddings).
     * w600k_r50: the archive's golden set (spec/matching-and-merge.md).
     * faceplugin-fr_feature-0.0.1: measured with bench/ingest.java on ../shared/eval/identities
     * (95 chips, 13 people, 355 same-person and 4,110 other-person pairs): every pair closer than
     * 1.134 is the same person (recall 99.7% there). Each level is picked at the precision the
     * archive's w600k_r50 level has on its golden set:
     *   very_high 0.90: 100% precision, 94.6% recall   high 1.10: 100%, 99.4% (a margin below 1.134)
     *   moderate 1.19: 95.7%, 100%   medium 1.22: 88.5%, 100%   low 1.26: 71.1%, 100%
     *   grouping 1.00: 100%, 98.3% (stricter than high, as for w600k_r50).
     * These chips are clean, tight crops; re-measure on the archive's golden set when it is
     * embedded with this model, and update the numbers here (fetch_models writes them).
     */
    public static final Map<String, double[]> THRESHOLDS = new LinkedHashMap<>();
    public static final Map<String, String> CALIBRATION = new LinkedHashMap<>();
    static {
        // very_high, high, moderate, medium, low, grouping
        THRESHOLDS.put("faceplugin-fr_feature-0.0.1", new double[] {0.90, 1.10, 1.19, 1.22, 1.26, 1.00});
        CALIBRATION.put("faceplugin-fr_feature-0.0.1", "bench/ingest.java on shared/eval/identities, 95 chips, 13 people:"
                + " 100% precision below 1.134 (recall 99.7%); high 1.10 = 100% precision, 99.4% recall");
        THRESHOLDS.put("w600k_r50", new double[] {0.80, 1.05, 1.15, 1.20, 1.25, 0.95});
        CALIBRATION.put("w600k_r50", "archive golden set, 90 faces, 23 people");
    }

    private static final String[] THRESHOLD_NAMES = {"very_high", "high", "moderate", "medium", "low", "grouping"};

    /**
     * How each family wants its input and what it gives back. FaceModels reads score_threshold,
     * color and std from here; the rest says what FaceDetector / FaceEmbedder do for that family
     * (FetchModelsTest checks that the two agree), and is there for people to read.
     */
    static ObjectNode conventions(Known k) {
        ObjectNode io = JsonFiles.object();
        switch (k.family()) {
            case FAMILY_ULTRAFACE -> {
                io.put("input", "input [1,3,240,320] fixed; RGB planes; (x-127)/128");
                io.put("outputs", "scores [1,N,2] softmaxed, column 1 = face; boxes [1,N,4] normalised x1,y1,x2,y2");
                io.put("score_threshold", 0.9);
                io.put("small_faces", "pyramid of levels <= 2.5x apart, 320x240 tiles overlapping by 96 px, one NMS");
            }
            case FAMILY_SCRFD -> {
                // InsightFace's SCRFD.detect as FaceAnalysis(name="buffalo_l").prepare(det_size=(640, 640)) runs it.
                io.put("input", "input.1 [1,3,H,W] (640x640 letterboxed, top-left); RGB planes; (x-127.5)/128");
                io.put("outputs", "per stride 8/16/32: scores [N,1], boxes [N,4] distances *stride, kps [N,10] *stride; 2 anchors per cell");
                io.put("input_name", "input.1");
                io.putArray("input_size").add(SCRFD_INPUT).add(SCRFD_INPUT);
                io.put("letterbox", "aspect kept, photo at the top-left, zero padding");
                io.put("color", "RGB");
                io.put("mean", 127.5);
                io.put("std", 128.0);
                if (k == DET_10G) {
                    // by stride 8, 16, 32: scores, then boxes, then keypoints (the kit tells them apart by shape)
                    io.putArray("output_names").add("448").add("471").add("494").add("451").add("474").add("497")
                            .add("454").add("477").add("500");
                }
                io.putArray("strides").add(8).add(16).add(32);
                io.put("anchors_per_cell", 2);
                io.put("score_threshold", 0.5);
                io.put("nms_threshold", SCRFD_NMS);
            }
            case FAMILY_LANDMARK68 -> {
                io.put("input", "input [1,1,64,64] grey, pixel/256: the square of side = box height around the box centre");
                io.put("outputs", "output [1,136] = 68 (x,y) in [0,1] of that square; 5 points = eye centres (36-41, 42-47), nose 30, mouth 48, 54");
            }
            case FAMILY_ARCFACE -> {
                boolean faceplugin = k.name().equals("fr_feature");
                io.put("input", "[1,3,112,112] aligned to the ArcFace 5-point template; "
                        + (faceplugin ? "BGR planes (separates identities better than RGB here); (x-127.5)/128"
                                      : "RGB planes; (x-127.5)/127.5"));
                io.put("color", faceplugin ? "BGR" : "RGB");
                io.put("mean", 127.5);
                io.put("std", faceplugin ? 128.0 : 127.5);
                io.putArray("input_size").add(ARCFACE_INPUT).add(ARCFACE_INPUT);
                if (k == W600K_R50) {
                    io.put("input_name", "input.1");
                    io.putArray("output_names").add("683");
                }
                io.put("embedding_size", EMBEDDING_SIZE);
                io.put("outputs", "512-d embedding; raw norm = quality; L2-normalised before use");
            }
            default -> {}
        }
        return io;
    }

    /** SCRFD's square input side and NMS IoU, ArcFace's input side and vector length (InsightFace's own values). */
    public static final int SCRFD_INPUT = 640, ARCFACE_INPUT = 112, EMBEDDING_SIZE = 512;
    public static final double SCRFD_NMS = 0.4;

    /** The models.json entry for a known model whose file is installed with hash {@code sha256}. */
    public static ObjectNode entry(Known k, String sha256) {
        ObjectNode e = JsonFiles.object();
        e.put("file", k.file());
        e.put("sha256", sha256);
        e.put("family", k.family());
        e.put("role", k.role());
        if (k.embeddingModel() != null) e.put("embedding_model", k.embeddingModel());
        e.put("source", k.source());
        if (k.sha256() != null && k.bytes() > 0) {
            // Said plainly, since a file that is not the release's may embed faces differently.
            e.put("release_sha256", k.sha256());
            e.put("matches_release", k.sha256().equals(sha256));
        }
        e.put("licence", k.licence());
        e.setAll(conventions(k));
        return e;
    }

    public static ObjectNode thresholdsNode() {
        ObjectNode all = JsonFiles.object();
        THRESHOLDS.forEach((model, v) -> all.set(model, thresholdEntry(v, CALIBRATION.get(model))));
        return all;
    }

    /** Marks an entry written by ./jbang calibrate --write: the archive's own figures, which fetch_models keeps. */
    public static final String CALIBRATED_BY = "calibrated_by", CALIBRATE = "calibrate";

    /**
     * The "thresholds" object to write over {@code previous} (the file's current one, or null):
     * the kit's built-in figures for the models it knows, except where the archive's own
     * calibration stands; entries for other models are kept.
     */
    public static ObjectNode thresholdsNode(JsonNode previous) {
        ObjectNode out = JsonFiles.object();
        if (previous != null && previous.isObject()) out.setAll((ObjectNode) previous.deepCopy());
        thresholdsNode().fields().forEachRemaining(e -> {
            if (!CALIBRATE.equals(out.path(e.getKey()).path(CALIBRATED_BY).asText())) out.set(e.getKey(), e.getValue());
        });
        return out;
    }

    /** One model's entry under "thresholds": very_high, high, moderate, medium, low, grouping and how they were measured. */
    public static ObjectNode thresholdEntry(double[] v, String calibration) {
        ObjectNode t = JsonFiles.object();
        for (int i = 0; i < THRESHOLD_NAMES.length; i++) t.put(THRESHOLD_NAMES[i], v[i]);
        t.put("calibration", calibration);
        return t;
    }

    public static Path file(Path modelsDir) {
        return modelsDir.resolve(FILE);
    }

    /** Copies models.json to models/backups/models.json.&lt;timestamp&gt;.bak (never over an earlier backup) before it is rewritten. */
    public static Path backup(Path modelsFile) throws IOException {
        Path backups = Files.createDirectories(modelsFile.resolveSibling("backups"));
        String label = Timestamps.label();
        Path backup = backups.resolve(modelsFile.getFileName() + "." + label + ".bak");
        for (int i = 2; Files.exists(backup); i++) backup = backups.resolve(modelsFile.getFileName() + "." + label + "-" + i + ".bak");
        AtomicFiles.copy(modelsFile, backup, false);
        return backup;
    }

    /** models.json, or a KitException saying how to get it. */
    public static ObjectNode read(Path modelsDir) {
        Path f = file(modelsDir);
        try {
            ObjectNode doc = JsonFiles.readObject(f);
            if (!doc.path("models").isObject() || !doc.path("active").isObject()) {
                throw new KitException(f + " has no \"models\" or \"active\" object", "run ./jbang fetch-models to write it again");
            }
            return doc;
        } catch (NoSuchFileException e) {
            throw new KitException("no face models yet: " + f + " does not exist", "run ./jbang fetch-models (needs npm once), or ./jbang fetch-models --from-insightface to use InsightFace's buffalo_l files on this computer");
        } catch (IOException e) {
            throw new KitException("cannot read " + f + ": " + e.getMessage(), "check the file's permissions");
        }
    }

    /** The active model entry for a role (detector / landmarks / recognizer), or null when the role is empty. */
    public static ObjectNode active(ObjectNode doc, String role, Path modelsDir) {
        JsonNode name = doc.path("active").get(role);
        if (name == null || name.isNull()) return null;
        JsonNode e = doc.path("models").get(name.asText());
        if (e == null || !e.isObject()) {
            throw new KitException(file(modelsDir) + ": the active " + role + " '" + name.asText() + "' is not listed under \"models\"",
                    "run ./jbang fetch-models to repair models.json");
        }
        ObjectNode entry = ((ObjectNode) e).deepCopy();
        entry.put("name", name.asText());
        return entry;
    }

    /** The embedding model tag of the active recognizer (what every stored face is tagged with). */
    public static String activeEmbeddingModel(Path modelsDir) {
        String tag = activeEmbeddingModelIfAny(modelsDir);
        if (tag == null) throw new KitException(file(modelsDir) + " has no active recognizer", "run ./jbang fetch-models");
        return tag;
    }

    /** The same, or null when there is no models.json or it names no active recognizer (a damaged file is still a KitException). */
    public static String activeEmbeddingModelIfAny(Path modelsDir) {
        if (modelsDir == null || !Files.isRegularFile(file(modelsDir))) return null;
        ObjectNode rec = active(read(modelsDir), "recognizer", modelsDir);
        return rec == null ? null : rec.path("embedding_model").asText(rec.path("name").asText());
    }

    public static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static ArrayNode names(List<Known> ks) {
        ArrayNode a = JsonFiles.MAPPER.createArrayNode();
        for (Known k : ks) a.add(k.name());
        return a;
    }
}
