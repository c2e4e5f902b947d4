package org.chainrule.models.autoregressive;

/**
 * A MADE training configuration exactly as the code before output families and contexts wrote it (commit 6a967d9,
 * {@code MadeSpec.made([4], [6], 2, true, 7).withDirect(true)}, {@code TrainingRecipe(1e-2, 5)}): its MadeLayer has
 * none of the fields {@code family}, {@code levels}, {@code components}, {@code contextSize}. Networks saved by that
 * version carry this JSON, and must keep loading as the binary model.
 */
final class OldMadeJson {
    private OldMadeJson() {
    }

    static final String CONFIGURATION = """
            {
              "backpropType" : "Standard",
              "cacheMode" : "NONE",
              "confs" : [ {
                "cacheMode" : "NONE",
                "dataType" : "FLOAT",
                "epochCount" : 0,
                "iterationCount" : 0,
                "layer" : {
                  "@class" : "org.chainrule.models.autoregressive.MadeLayer",
                  "biasUpdater" : null,
                  "constraints" : null,
                  "dim" : 4,
                  "direct" : true,
                  "gradientNormalization" : "None",
                  "gradientNormalizationThreshold" : 1.0,
                  "hidden" : [ 6 ],
                  "idropout" : null,
                  "layerName" : "layer0",
                  "layerParams" : {
                    "biasParams" : {
                      "b0" : [ 1, 6 ],
                      "b1" : [ 1, 4 ]
                    },
                    "weightParams" : {
                      "W0" : [ 4, 6 ],
                      "W1" : [ 6, 4 ],
                      "Wd" : [ 4, 4 ]
                    }
                  },
                  "maskSeed" : 7,
                  "orderAgnostic" : true,
                  "paramWeightInit" : null,
                  "regularization" : [ ],
                  "regularizationBias" : [ ],
                  "updater" : {
                    "@class" : "org.nd4j.linalg.learning.config.Adam",
                    "beta1" : 0.9,
                    "beta2" : 0.999,
                    "epsilon" : 1.0E-8,
                    "learningRate" : 0.01
                  },
                  "variants" : 2,
                  "weightInit" : "XAVIER"
                },
                "maxNumLineSearchIterations" : 5,
                "miniBatch" : true,
                "minimize" : true,
                "optimizationAlgo" : "STOCHASTIC_GRADIENT_DESCENT",
                "seed" : 5,
                "stepFunction" : null,
                "variables" : [ ]
              }, {
                "cacheMode" : "NONE",
                "dataType" : "FLOAT",
                "epochCount" : 0,
                "iterationCount" : 0,
                "layer" : {
                  "@class" : "org.deeplearning4j.nn.conf.layers.LossLayer",
                  "activationFn" : {
                    "@class" : "org.nd4j.linalg.activations.impl.ActivationIdentity"
                  },
                  "biasInit" : 0.0,
                  "biasUpdater" : null,
                  "constraints" : null,
                  "gainInit" : 1.0,
                  "gradientNormalization" : "None",
                  "gradientNormalizationThreshold" : 1.0,
                  "idropout" : null,
                  "iupdater" : {
                    "@class" : "org.nd4j.linalg.learning.config.Adam",
                    "beta1" : 0.9,
                    "beta2" : 0.999,
                    "epsilon" : 1.0E-8,
                    "learningRate" : 0.01
                  },
                  "layerName" : "layer1",
                  "lossFn" : {
                    "@class" : "org.chainrule.models.BernoulliLogitLoss"
                  },
                  "nin" : 4,
                  "nout" : 0,
                  "regularization" : [ ],
                  "regularizationBias" : [ ],
                  "timeDistributedFormat" : null,
                  "weightInitFn" : {
                    "@class" : "org.deeplearning4j.nn.weights.WeightInitXavier"
                  },
                  "weightNoise" : null
                },
                "maxNumLineSearchIterations" : 5,
                "miniBatch" : true,
                "minimize" : true,
                "optimizationAlgo" : "STOCHASTIC_GRADIENT_DESCENT",
                "seed" : 5,
                "stepFunction" : null,
                "variables" : [ ]
              } ],
              "dataType" : "FLOAT",
              "epochCount" : 0,
              "inferenceWorkspaceMode" : "ENABLED",
              "inputPreProcessors" : { },
              "iterationCount" : 0,
              "tbpttBackLength" : 20,
              "tbpttFwdLength" : 20,
              "trainingWorkspaceMode" : "ENABLED",
              "validateOutputLayerConfig" : true
            }
            """;
}
