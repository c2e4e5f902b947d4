/**
 * Latent-variable models trained by variational inference: a VAE over binary events (Kingma &amp; Welling 2014) whose
 * approximate posterior is refined by amortised planar flows (Rezende &amp; Mohamed 2015). Their likelihood is not
 * tractable, so {@link org.chainrule.models.vae.VaeDensity} reports an importance-sampled estimate (the IWAE bound of
 * Burda et al. 2016) and says so through {@link org.chainrule.models.ModelSpec#likelihoodCaveat()}.
 */
package org.chainrule.models.vae;
