// Makes OpenSSL fail on the current thread, as a broken or misconfigured
// provider setup would: while an `openssl_failure` lives, the thread's
// default library context holds only the "null" provider, so HMAC,
// SHA-256 and RAND_bytes find no implementation and report failure.
// Test code only; affects the constructing thread, which must destroy it.
#pragma once

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/provider.h>

namespace miyabi::test {

class openssl_failure {
 public:
  openssl_failure()
      : ctx_(OSSL_LIB_CTX_new()),
        null_(ctx_ ? OSSL_PROVIDER_load(ctx_, "null") : nullptr) {
    if (null_ == nullptr)
      throw std::runtime_error("cannot load OpenSSL's null provider");
    previous_ = OSSL_LIB_CTX_set0_default(ctx_);
  }

  openssl_failure(const openssl_failure&) = delete;
  openssl_failure& operator=(const openssl_failure&) = delete;

  ~openssl_failure() {
    OSSL_LIB_CTX_set0_default(previous_);
    OSSL_PROVIDER_unload(null_);
    OSSL_LIB_CTX_free(ctx_);
  }

 private:
  OSSL_LIB_CTX* ctx_;
  OSSL_PROVIDER* null_;
  OSSL_LIB_CTX* previous_ = nullptr;
};

} // namespace miyabi::test
