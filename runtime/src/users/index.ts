export {
  type UserDatabase,
  type VerifyResult,
  type VerifyFailure,
  type WritableScheme,
  type Credential,
  PasswdFileDatabase,
  UserDatabaseUnavailableError,
  InvalidCredentialError,
  UnsupportedSchemeError,
  parsePasswdFile,
  parseCredential,
  hashPassword,
  addUser,
  isValidPasswdUserName,
} from './passwd-file.js';
export { shaCrypt, parseShaCryptSetting, randomCryptSalt, type ShaCryptAlgorithm } from './sha-crypt.js';
export {
  LoginThrottle,
  type LoginThrottleOptions,
  type ThrottleLimits,
  throttleKey,
  QUIET_PERIOD_MS,
  MAX_TRACKED_ADDRESSES,
} from './throttle.js';
export {
  CryptPool,
  CryptWorkerError,
  type CryptRunner,
  inlineCrypt,
  sharedCryptPool,
  defaultCryptWorkers,
} from './crypt-pool.js';
