export {
  type UserDatabase,
  type VerifyResult,
  type VerifyFailure,
  UserDatabaseUnavailableError,
  checkLogin,
} from './user-database.js';
export { type Credential, parseCredential, MAX_PASSWORD_BYTES } from './credentials.js';
export {
  type WritableScheme,
  PasswdFileDatabase,
  InvalidCredentialError,
  UnsupportedSchemeError,
  parsePasswdFile,
  hashPassword,
  addUser,
  isValidPasswdUserName,
} from './passwd-file.js';
export { shaCrypt, parseShaCryptSetting, randomCryptSalt, type ShaCryptAlgorithm } from './sha-crypt.js';
export {
  LoginThrottle,
  type LoginThrottleOptions,
  type ThrottleLimits,
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
export { type CryptJob, type CryptJobKind, runCryptJob } from './crypt-jobs.js';
export { UnknownUserCost } from './unknown-user.js';
export { PostgresUserDatabase, CONNECT_TIMEOUT_MS, STATEMENT_TIMEOUT_MS } from './sql-userdb.js';
export { type UserDbConfig, UserDbConfigError, loadUserDbConfig } from './userdb-file.js';
