import GraftCore
