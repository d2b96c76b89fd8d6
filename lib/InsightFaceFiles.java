import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * InsightFace's own model folder on the maintainers' computer (the earlier pipeline ran
 * {@code FaceAnalysis(name="buffalo_l")}, which unpacked its files into
 * ~/.insightface/models/buffalo_l/), and the check that a file found there is the model the
 * archive was made with: the release's SHA-256 (a truncated copy is named as such), and, since
 * a hash alone says nothing about a file it does not know, ONNX Runtime must load it and its
 * inputs and outputs must be those of its family (SCRFD: 9 outputs of 1, 4 and 10 values per
 * anchor; ArcFace: a 3x112x112 face in, 512 values out).
 */
public final class InsightFaceFiles {
    private InsightFaceFiles() {}

    /** Whether a file whose bytes are not the release's may still be taken (its shape must fit all the same). */
    public enum OtherHash { REFUSE, ACCEPT }

    /** A checked file: where it is, its hash and size, and whether that hash is the release's. */
    public record Checked(ModelCatalog.Known model, Path file, String sha256, long bytes, boolean matchesRelease) {}

    /**
     * Where InsightFace keeps buffalo_l: $HOME/.insightface/models/buffalo_l, as Python's
     * expanduser("~") finds it (HOME first; the JVM's user.home when HOME is unset).
     */
    public static Path defaultFolder(Map<String, String> env) {
        String home = env.get("HOME");
        if (home == null || home.isBlank()) home = System.getProperty("user.home");
        return Path.of(home).resolve(".insightface").resolve("models").resolve(ModelCatalog.BUFFALO_L);
    }

    /** Checks both buffalo_l files of {@code folder}; every problem, for every file, in one KitException. */
    public static List<Checked> check(Path folder, List<ModelCatalog.Known> wanted, OtherHash otherHash) throws IOException {
        if (!Files.isDirectory(folder)) {
            throw new KitException("InsightFace's model folder " + folder + " does not exist",
                    "give the folder that holds " + names(wanted) + ": ./jbang fetch-models --from-insightface DIR"
                            + " (InsightFace unpacks buffalo_l.zip into ~/.insightface/models/buffalo_l)");
        }
        List<Checked> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (ModelCatalog.Known k : wanted) {
            try {
                out.add(check(folder.resolve(k.file()), k, otherHash));
            } catch (KitException e) {
                problems.add(e.getMessage() + (e.fix() == null ? "" : " -> " + e.fix()));
            }
        }
        if (problems.size() == 1) {
            String[] p = problems.get(0).split(" -> ", 2);
            throw new KitException(p[0] + "; nothing was changed", p.length > 1 ? p[1] : null);
        }
        if (!problems.isEmpty()) {
            throw new KitException(problems.size() + " files of " + folder + " cannot be taken; nothing was changed:\n  "
                    + String.join("\n  ", problems), "fix each file named above, then run the same command again");
        }
        return out;
    }

    /** One file: present, the release's bytes (or, with OtherHash.ACCEPT, any bytes), loadable, of its family's shape. */
    public static Checked check(Path file, ModelCatalog.Known k, OtherHash otherHash) throws IOException {
        String fromZip = "copy " + k.file() + " again from " + ModelCatalog.BUFFALO_L + ".zip (InsightFace release v0.7)"
                + " into " + file.getParent() + ", or let InsightFace fetch it again (remove the folder, then run"
                + " FaceAnalysis(name=\"buffalo_l\") once)";
        if (!Files.isRegularFile(file)) {
            throw new KitException(file + " is missing (InsightFace's " + k.role() + " " + k.name() + ")", fromZip);
        }
        long size = Files.size(file);
        String sha = ModelCatalog.sha256(file);
        boolean release = sha.equals(k.sha256());
        if (!release && k.sha256() != null && otherHash == OtherHash.REFUSE) {
            String also = "; a file of another export that you trust: add --allow-other-hash"
                    + (k.embeddingModel() != null ? " (its vectors may then differ from the archive's)" : "");
            if (k.bytes() > 0 && size < k.bytes()) {
                throw new KitException(file + " is truncated: " + size + " of the release's " + k.bytes() + " bytes", fromZip + also);
            }
            throw new KitException(file + " is not buffalo_l's " + k.name() + ": its sha256 is " + sha + ", the release's "
                    + k.sha256() + " (" + size + " bytes, the release's " + k.bytes() + ")", fromZip + also);
        }
        String shape = shapeProblem(file, k);
        if (shape != null) throw new KitException(file + " is not " + article(k) + ": " + shape, fromZip);
        return new Checked(k, file, sha, size, release);
    }

    /** Why the file does not fit its family's signature, or null when it does (ONNX Runtime loads it to tell). */
    static String shapeProblem(Path file, ModelCatalog.Known k) {
        OrtSession s;
        try {
            s = FaceModels.session(file, 1);
        } catch (KitException e) {
            return "ONNX Runtime cannot load it (damaged or truncated, or not an ONNX model)";
        }
        try (s) {
            Map<String, NodeInfo> in = s.getInputInfo();
            Map<String, NodeInfo> out = s.getOutputInfo();
            if (in.size() != 1) return "it has " + in.size() + " inputs, the model has one";
            long[] input = shape(in.values().iterator().next());
            if (input == null || input.length != 4 || input[1] != 3) {
                return "its input is " + Arrays.toString(input) + ", not an image of 3 colour planes [N,3,H,W]";
            }
            if (ModelCatalog.FAMILY_SCRFD.equals(k.family())) {
                int[] byKind = new int[11];
                for (NodeInfo o : out.values()) {
                    long[] sh = shape(o);
                    long last = sh == null || sh.length == 0 ? -1 : sh[sh.length - 1];
                    if (last == 1 || last == 4 || last == 10) byKind[(int) last]++;
                }
                if (out.size() != 9 || byKind[1] != 3 || byKind[4] != 3 || byKind[10] != 3) {
                    return "its " + out.size() + " outputs are not SCRFD's 9 (scores, boxes and 5 keypoints at strides 8, 16, 32)";
                }
            } else {
                int side = ModelCatalog.ARCFACE_INPUT;
                if ((input[2] > 0 && input[2] != side) || (input[3] > 0 && input[3] != side)) {
                    return "its input is " + Arrays.toString(input) + ", not an aligned face of " + side + "x" + side;
                }
                long[] o = out.size() == 1 ? shape(out.values().iterator().next()) : null;
                if (o == null || o.length == 0 || o[o.length - 1] != ModelCatalog.EMBEDDING_SIZE) {
                    return "its output is not one vector of " + ModelCatalog.EMBEDDING_SIZE + " values";
                }
            }
            return null;
        } catch (OrtException e) {
            return "ONNX Runtime cannot read its signature (" + e.getMessage() + ")";
        }
    }

    private static long[] shape(NodeInfo n) {
        return n.getInfo() instanceof TensorInfo t ? t.getShape() : null;
    }

    private static String article(ModelCatalog.Known k) {
        return ModelCatalog.FAMILY_SCRFD.equals(k.family()) ? "an SCRFD face detector like buffalo_l's " + k.name()
                : "an ArcFace recognizer like buffalo_l's " + k.name();
    }

    private static String names(List<ModelCatalog.Known> ks) {
        List<String> n = new ArrayList<>();
        for (ModelCatalog.Known k : ks) n.add(k.file());
        return String.join(" and ", n);
    }
}
