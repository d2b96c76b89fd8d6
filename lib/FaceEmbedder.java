//DEPS com.microsoft.onnxruntime:onnxruntime:1.29.0
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * The recognizer: an aligned 112x112 face in, a 512-d embedding out. ArcFace-style models
 * take (x - 127.5) / std per channel; fr_feature separates people better on BGR planes, the
 * InsightFace models were trained on RGB (models.json says which). The raw vector's norm is
 * kept as the face's quality; the embedding used for matching is L2-normalised.
 */
public final class FaceEmbedder {
    /** mu: L2-normalised embedding; quality: the raw vector's norm. */
    public record Embedding(float[] mu, float quality) {}

    private final OrtSession session;
    private final boolean rgb;
    private final float std;

    public FaceEmbedder(OrtSession session, boolean rgb, double std) {
        this.session = session;
        this.rgb = rgb;
        this.std = (float) std;
    }

    public Embedding embed(Photos.Image aligned) {
        int n = FaceAligner.SIZE * FaceAligner.SIZE;
        float[] input = new float[3 * n];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < 3; c++) {
                int src = rgb ? 2 - c : c;  // planes in the model's channel order
                input[c * n + i] = ((aligned.bgr[i * 3 + src] & 0xff) - 127.5f) / std;
            }
        }
        float[] raw;
        try (OnnxTensor t = OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), FloatBuffer.wrap(input),
                new long[] {1, 3, FaceAligner.SIZE, FaceAligner.SIZE});
             OrtSession.Result r = session.run(Map.of(session.getInputNames().iterator().next(), t))) {
            FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
            raw = new float[fb.remaining()];
            fb.get(raw);
        } catch (OrtException e) {
            throw new KitException("the face recognizer failed: " + e.getMessage(), "run ./jbang fetch-models --force");
        }
        return normalise(raw);
    }

    public static Embedding normalise(float[] raw) {
        double sum = 0;
        for (float v : raw) sum += (double) v * v;
        float norm = (float) Math.sqrt(sum);
        float[] mu = new float[raw.length];
        for (int i = 0; i < raw.length; i++) mu[i] = norm > 0 ? raw[i] / norm : 0;
        return new Embedding(mu, norm);
    }
}
