export {
  type UserDatabase,
  type VerifyResult,
  type VerifyFailure,
  UserDatabaseUnavailableError,
  checkLogin,
} from './user-database';
export { type Credential, parseCredential, MAX_PASSWORD_BYTES } from './credentials';
export {
  type WritableScheme,
  PasswdFileDatabase,
  InvalidCredentialError,
  UnsupportedSchemeError,
  parsePasswdFile,
  hashPassword,
  addUser,
  isValidPasswdUserName,
} from './passwd-file';
export { shaCrypt, parseShaCryptSetting, randomCryptSalt, type ShaCryptAlgorithm } from './sha-crypt';
export {
  LoginThrottle,
  type LoginThrottleOptions,
  type ThrottleLimits,
  QUIET_PERIOD_MS,
  MAX_TRACKED_ADDRESSES,
} from './throttle';
export {
  CryptPool,
  CryptWorkerError,
  type CryptRunner,
  inlineCrypt,
  sharedCryptPool,
  defaultCryptWorkers,
} from './crypt-pool';
export { type CryptJob, type CryptJobKind, runCryptJob } from './crypt-jobs';
export { UnknownUserCost } from './unknown-user';
export { PostgresUserDatabase, CONNECT_TIMEOUT_MS, STATEMENT_TIMEOUT_MS } from './sql-userdb';
export { type UserDbConfig, UserDbConfigError, loadUserDbConfig } from './userdb-file';
